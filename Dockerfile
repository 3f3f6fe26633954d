# LLM task worker image (README "Deployment"). Build from the repository root:
#   docker build -t llm-task-worker .
# Stage 1 builds the jar with the Maven wrapper and extracts it into Spring Boot's layers (dependencies change
# rarely, the application often: a rebuild after a code change pushes only the last layer). Stage 2 is a JRE with the
# layers, routes/, templates/ and config/ in the working directory /app, run as a non-root user.

# --- build ---
FROM eclipse-temurin:17-jdk AS build
WORKDIR /src
COPY .mvn/ .mvn/
COPY mvnw pom.xml ./
RUN ./mvnw -B -q dependency:go-offline
COPY src/ src/
RUN ./mvnw -B -q -DskipTests package \
 && java -Djarmode=tools -jar target/llm-task-worker.jar extract --layers --launcher --destination /layers

# --- run ---
FROM eclipse-temurin:17-jre
# curl for the health check only
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 worker \
 && useradd --system --uid 10001 --gid worker --home-dir /app --shell /usr/sbin/nologin worker
WORKDIR /app
COPY --from=build /layers/dependencies/ ./
COPY --from=build /layers/spring-boot-loader/ ./
COPY --from=build /layers/snapshot-dependencies/ ./
COPY --from=build /layers/application/ ./
# read from the working directory: camel.main.routes-include-pattern=file:routes/*.camel.yaml, worker.template-dir,
# Spring Boot's ./config/; in Kubernetes routes/ and templates/ are ConfigMaps mounted over these folders
COPY routes/ routes/
COPY templates/ templates/
COPY config/ config/
# data/: the H2 task store and the embedded RAG index (a volume in docker-compose.yml, an emptyDir in Kubernetes)
RUN mkdir -p data && chown worker:worker data
USER 10001:10001

# JSON log lines (profile json-logs: Spring Boot's structured logging, ECS); the liveness and readiness health groups;
# DJL (the embedded RAG's tokenizer) unpacks its native library under $HOME/.djl.ai unless told otherwise: /tmp is
# writable also with a read-only root file system (Kubernetes)
ENV SPRING_PROFILES_ACTIVE=json-logs \
    MANAGEMENT_ENDPOINT_HEALTH_PROBES_ENABLED=true \
    SERVER_PORT=8080 \
    DJL_CACHE_DIR=/tmp/djl \
    JAVA_TOOL_OPTIONS="-XX:MaxRAMPercentage=75 -XX:+ExitOnOutOfMemoryError"
EXPOSE 8080
# ready = Camel's tier intakes running, broker and task store reachable; the first start indexes the RAG documents
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:8080/actuator/health/readiness || exit 1
# exec form: the JVM is PID 1 and gets SIGTERM itself (graceful drain, README "Events and queues")
ENTRYPOINT ["java", "org.springframework.boot.loader.launch.JarLauncher"]
