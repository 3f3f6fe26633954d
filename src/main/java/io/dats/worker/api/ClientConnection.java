package io.dats.worker.api;

import java.lang.reflect.Field;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.RequestFacade;
import org.apache.coyote.ActionCode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the client of a waiting REST request has gone. A request that platform-http serves is a servlet async
 * request, and Tomcat does not watch the socket of an async request for reads (AbstractProtocol#longPoll registers
 * read interest only for non-async processors), so a disconnect is seen by no listener until the answer is written.
 * This probe asks Tomcat's HTTP/1.1 processor for available input with a non-blocking socket read
 * ({@code ActionCode.AVAILABLE} with read allowed): the body was read in full before the task was admitted, so
 * anything available now means the peer closed the connection (a read of -1 is reported as available input) or sent
 * more bytes, which an HTTP/1.1 client does not do while it waits for its answer (no pipelining of POSTs).
 * Bytes read are kept in Tomcat's input buffer, not lost. Only Tomcat is supported; elsewhere the probe says "present".
 */
final class ClientConnection {

    private static final Logger LOG = LoggerFactory.getLogger(ClientConnection.class);
    private static final Field FACADE_REQUEST = facadeField();

    private final org.apache.coyote.Request coyote;

    private ClientConnection(org.apache.coyote.Request coyote) {
        this.coyote = coyote;
    }

    /** The probe of this request's connection, or null where it cannot be observed (not Tomcat). */
    static ClientConnection of(HttpServletRequest request) {
        if (request == null || FACADE_REQUEST == null) {
            return null;
        }
        ServletRequest inner = request;
        while (inner instanceof ServletRequestWrapper wrapper) {
            inner = wrapper.getRequest();
        }
        try {
            if (inner instanceof RequestFacade facade) {
                return new ClientConnection(((Request) FACADE_REQUEST.get(facade)).getCoyoteRequest());
            }
            if (inner instanceof Request connectorRequest) {
                return new ClientConnection(connectorRequest.getCoyoteRequest());
            }
        } catch (IllegalAccessException | RuntimeException e) {
            LOG.debug("Cannot observe the client connection: {}", e.toString());
        }
        return null;
    }

    /** True when the client closed the connection (or the connection is in error). */
    boolean gone() {
        java.util.concurrent.atomic.AtomicBoolean error = new java.util.concurrent.atomic.AtomicBoolean();
        coyote.action(ActionCode.IS_ERROR, error);
        if (error.get()) {
            return true;
        }
        coyote.action(ActionCode.AVAILABLE, Boolean.TRUE);
        return coyote.getAvailable() > 0;
    }

    private static Field facadeField() {
        try {
            Field field = RequestFacade.class.getDeclaredField("request");
            field.setAccessible(true);
            return field;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return null;
        }
    }
}
