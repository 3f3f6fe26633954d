package io.dats.worker.it;

import java.io.File;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import io.dats.worker.support.FakeLlmServer;
import io.dats.worker.support.FakeLlmServer.Reply;
import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.ElementClickInterceptedException;
import org.openqa.selenium.ElementNotInteractableException;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.TimeoutException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Hawtio as an operator uses it: Debian's headless Chromium (driven through its chromedriver) logs in through Spring
 * Security's login form and works in Hawtio's Camel views, whose every Jolokia call is a POST that needs the
 * {@code XSRF-TOKEN} cookie. Asserts on what the pages show and saves screenshots under {@code target/screenshots/}.
 * Chromium and chromedriver come from {@code bin/ensure-chromium}; without them the test fails, it does not skip.
 */
class HawtioBrowserIT extends WorkerITSupport {

    static final TestBroker BROKER = TestBroker.named("hawtio");
    static final String CONTEXT = "hawtio-it-worker";
    static final Path SCREENSHOTS = Path.of("target", "screenshots");
    /** An upper bound for a page to show what is waited for, not a performance expectation (2 shared cores). */
    static final Duration PAGE_WAIT = Duration.ofSeconds(90);
    static final List<String> CHROMIUM_FLAGS = List.of("--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-dev-shm-usage", "--window-size=1600,1000");

    @Autowired
    CamelContext camelContext;

    private static Path profile;
    private static WebDriver browser;
    private static WebDriverWait wait;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        workerProperties(registry, BROKER);
        // other test classes' cached contexts share this JVM's MBean server: Hawtio lists their Camel contexts too,
        // so this one gets a name of its own and the test looks for its routes under it
        registry.add("camel.main.name", () -> CONTEXT);
    }

    @BeforeEach
    void bindOutcomes() {
        // outcomes are published mandatory: something must be bound to task.output.created on this virtual host
        EventInbox.events(BROKER, "task.output.created");
    }

    /**
     * One browser for the class, as an operator keeps one open: the first test that opens Hawtio signs in through
     * the form, the others find the session (the login test itself starts signed out). Starting Chromium and
     * loading Hawtio for every test cost about half a minute each on 2 cores.
     */
    @BeforeAll
    static void openBrowser() throws IOException {
        Path chromium = onPath("chromium");
        Path chromedriver = onPath("chromedriver");
        profile = Files.createTempDirectory("hawtio-it-chromium-");
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        options.addArguments(CHROMIUM_FLAGS);
        options.addArguments("--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(chromedriver.toFile())
                .usingAnyFreePort()
                .build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(PAGE_WAIT);
        wait = new WebDriverWait(browser, PAGE_WAIT);
        Files.createDirectories(SCREENSHOTS);
    }

    @AfterAll
    static void closeBrowser() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        if (profile != null) {
            try (Stream<Path> files = Files.walk(profile)) {
                files.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    @Test
    void loggedInOperatorSeesEveryRouteWithItsState() {
        assertThat(execute(task("hawtio-1", "code-general", "Create fibonacci function")).statusCode()).isEqualTo(200);
        // signed out (an earlier test of the class may have signed in): Hawtio must send the browser to the form
        browser.get(baseUrl() + "/login");
        browser.manage().deleteAllCookies();
        assertThat(logIn()).as("Spring Security's login form was shown and filled in").isTrue();

        List<String> routeIds = camelContext.getRoutes().stream().map(Route::getRouteId).sorted().toList();
        assertThat(routeIds).contains("llm-small", "process-task");
        for (String routeId : routeIds) {
            waitFor("route " + routeId + " in the Camel tree", treeNode(routeId));
        }
        click("the routes folder", treeNode("routes"));
        openTab("Routes");
        for (String routeId : routeIds) {
            waitFor("row of route " + routeId + " in the Routes table", routeRow(routeId));
        }
        Map<String, String> pipeline = waitUntil("the row of process-task", driver -> routeRowCells("process-task"));
        assertThat(pipeline.get("State")).as("process-task %s", pipeline).isEqualTo("Started");
        assertThat(Long.parseLong(pipeline.get("Total"))).as("exchanges of process-task").isGreaterThanOrEqualTo(1);
        Map<String, String> llmSmall = waitUntil("the row of llm-small", driver -> routeRowCells("llm-small"));
        assertThat(llmSmall.get("State")).as("llm-small %s", llmSmall).isEqualTo("Started");
        screenshot("hawtio-routes.png");
        assertStillInHawtio();
    }

    @Test
    void routeDiagramShowsTheStepsOfAnLlmRoute() {
        logIn();
        openRoute("llm-small");
        openTab("Route Diagram");
        List<String> nodes = waitUntil("the diagram of llm-small", driver -> {
            List<String> labels = driver.findElements(By.cssSelector(".react-flow__node .camel-node-label")).stream()
                    .map(WebElement::getText).toList();
            // llm-small is made from the route template tier-llm-call: its definition says seda:llm-{{tier}}
            boolean drawn = labels.stream().anyMatch(label -> label.startsWith("From seda:llm-")) && labels.size() >= 3
                    && labels.stream().anyMatch(label -> label.startsWith("To langchain4j-ch"));
            return drawn ? labels : null;
        });
        assertThat(nodes).anyMatch(label -> label.startsWith("From seda:llm-"));
        assertThat(nodes).anyMatch(label -> label.startsWith("To langchain4j-ch"));
        assertThat(nodes.size()).as("diagram nodes %s", nodes).isGreaterThanOrEqualTo(3);
        screenshot("hawtio-route-diagram-llm-small.png");
        assertStillInHawtio();
    }

    @Test
    void sourceTabShowsThePipelineRouteAsXml() {
        logIn();
        openRoute("process-task");
        openTab("Source");
        // the editor renders the lines in view, progressively: the first ones hold the route element and its start
        // (long lines are cut at the editor's width: the steps' descriptions push their uri out of view)
        List<String> expected = List.of("<route ", "id=\"process-task\"", "<from ", "uri=\"direct:process-task\"",
                "description=\"Check the task against the task schema", "uri=\"direct:publish-failure\"");
        String source = waitUntil("the XML source of process-task", driver -> {
            String text = driver.findElements(By.cssSelector(".view-lines .view-line")).stream()
                    .map(WebElement::getText).map(line -> line.replace('\u00a0', ' '))
                    .reduce("", (lines, line) -> lines + line + "\n");
            return expected.stream().allMatch(text::contains) ? text : null;
        });
        assertThat(source).contains(expected);
        screenshot("hawtio-source-process-task.png");
        assertStillInHawtio();
    }

    @Test
    void exchangesTabShowsAnLlmCallInFlight() {
        LLM.respondWith(call -> Reply.text(FakeLlmServer.DEFAULT_TEXT).delayed(PAGE_WAIT.multipliedBy(2)));
        CompletableFuture<HttpResponse<String>> held = executeAsync(task("hawtio-inflight", "code-general", "Held call"));
        try {
            await().atMost(PAGE_WAIT).until(() -> LLM.inFlight(MODELS.get("small")) == 1);
            logIn();
            openRoute("llm-small");
            openTab("Exchanges");
            waitFor("the held exchange among the inflight exchanges of llm-small",
                    By.xpath("//table//tr[td[normalize-space()='llm-small']]"));
            assertThat(pageText()).contains("Inflight Exchanges").doesNotContain("has not been enabled");
            screenshot("hawtio-exchanges-llm-small.png");
            assertStillInHawtio();
        } finally {
            LLM.releaseDelayed();
            assertThat(held.join().statusCode()).isEqualTo(200);
        }
    }

    @Test
    void jolokiaInTheSignedInBrowserRunsCamelDumpsButNoJvmOperations() {
        logIn();
        String route = "org.apache.camel:context=" + CONTEXT + ",type=routes,name=\"llm-small\"";
        JsonNode dump = parse(jolokiaFromThePage(true, Map.of("type", "exec", "mbean", route, "operation", "dumpRouteAsXml()")));
        assertThat(dump.path("status").asInt()).as(dump.toString()).isEqualTo(200);
        assertThat(dump.path("value").asText()).contains("id=\"llm-small\"", "seda:llm-");

        JsonNode gc = parse(jolokiaFromThePage(true, Map.of("type", "exec", "mbean", "java.lang:type=Memory", "operation", "gc()")));
        assertThat(gc.path("status").asInt()).as(gc.toString()).isEqualTo(403);
        assertThat(gc.path("error").asText()).contains("forbidden");

        // the session alone is not enough: without the token echoed from the cookie, Spring Security refuses the POST
        assertThat(jolokiaFromThePage(false, Map.of("type", "version"))).startsWith("HTTP 403");
        assertStillInHawtio();
    }

    @Test
    void jolokiaRefusesOperationsByGetAndCrossOriginCalls() {
        String basic = "Basic " + java.util.Base64.getEncoder()
                .encodeToString((ADMIN_USER + ":" + ADMIN_PASSWORD).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String stop = "/exec/org.apache.camel:context=llm-task-worker,type=routes,name=%22intake-tiny%22/stop()";
        for (String jolokia : List.of("/actuator/jolokia", "/actuator/hawtio/jolokia")) {
            HttpResponse<String> byGet = send(request(jolokia + stop).header("Authorization", basic).GET().build());
            assertThat(byGet.statusCode()).as(jolokia + stop).isEqualTo(403);
            HttpResponse<String> read = send(request(jolokia + "/read/java.lang:type=Memory/HeapMemoryUsage")
                    .header("Authorization", basic).GET().build());
            assertThat(read.statusCode()).as(jolokia + " read").isEqualTo(200);
        }
        assertThat(camelContext.getRouteController().getRouteStatus("intake-tiny").isStarted()).isTrue();

        HttpResponse<String> crossOrigin = send(request("/actuator/jolokia/read/java.lang:type=Memory/HeapMemoryUsage")
                .header("Authorization", basic).header("Origin", "https://example.org").GET().build());
        assertThat(crossOrigin.statusCode()).isEqualTo(403);
        assertThat(crossOrigin.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }

    /**
     * A Jolokia POST from the page, as Hawtio's client sends it: same-origin credentials and, when asked, the
     * {@code XSRF-TOKEN} cookie echoed as {@code X-XSRF-TOKEN}. Returns the JSON answer, or "HTTP <status> <body>"
     * when the HTTP status is not 200.
     */
    private String jolokiaFromThePage(boolean withToken, Map<String, String> request) {
        Object answer = ((JavascriptExecutor) browser).executeAsyncScript("""
                const [request, withToken, done] = arguments;
                const cookie = document.cookie.split('; ').find(c => c.startsWith('XSRF-TOKEN='));
                const headers = {'Content-Type': 'application/json'};
                if (withToken && cookie) { headers['X-XSRF-TOKEN'] = decodeURIComponent(cookie.substring(11)); }
                fetch('/actuator/jolokia', {method: 'POST', credentials: 'same-origin', headers,
                        body: JSON.stringify(request)})
                    .then(r => r.text().then(body => done(r.status === 200 ? body : 'HTTP ' + r.status + ' ' + body)))
                    .catch(e => done('fetch failed: ' + e));
                """, request, withToken);
        return String.valueOf(answer);
    }

    /**
     * Opens Hawtio: signed out, it leads to Spring Security's login form, which is filled in; then Hawtio's Camel view
     * with its tree. Returns whether the form was used (false: the browser's session was still signed in, or the
     * browser still shows Hawtio).
     */
    private boolean logIn() {
        By contextNode = By.xpath("//li[@role='treeitem']//button[normalize-space()='" + CONTEXT + "']");
        if (browser.getCurrentUrl().contains("/actuator/hawtio/") && !browser.findElements(contextNode).isEmpty()) {
            // still in Hawtio from an earlier test: the operator goes on from there (a reload costs seconds)
            assertStillInHawtio();
            return false;
        }
        browser.get(baseUrl() + "/actuator/hawtio/");
        // (a wait ends on a value other than null and false: the answer is a word)
        boolean form = "form".equals(waitUntil("Spring Security's login form or Hawtio's Camel tree", driver -> {
            if (!driver.findElements(By.id("username")).isEmpty()) {
                return "form";
            }
            return driver.findElements(contextNode).isEmpty() ? null : "signed in";
        }));
        if (form) {
            browser.findElement(By.id("username")).sendKeys(ADMIN_USER);
            browser.findElement(By.id("password")).sendKeys(ADMIN_PASSWORD);
            browser.findElement(By.cssSelector("button[type=submit]")).click();
        }
        waitFor("Hawtio's Camel tree after the login (a login loop ends on the sign-in page instead)", contextNode);
        // other contexts of this JVM may be listed first, with this one folded
        click("Expand all", By.xpath("//button[normalize-space()='Expand all']"));
        waitFor("this context's routes in the tree", treeNode("routes"));
        assertStillInHawtio();
        return form;
    }

    private void openRoute(String routeId) {
        click("route " + routeId + " in the Camel tree", treeNode(routeId));
        waitFor("the page of route " + routeId, By.xpath("//h1[normalize-space()='" + routeId + "']"));
    }

    private void openTab(String name) {
        click("the " + name + " tab", By.xpath("//nav[@aria-label='Camel Nav']//a[normalize-space()='" + name + "']"));
    }

    /** A node under this test's own Camel context in Hawtio's tree. */
    private static By treeNode(String label) {
        return By.xpath("//li[@role='treeitem'][.//button[normalize-space()='" + CONTEXT + "']]"
                + "//li[@role='treeitem']//button[normalize-space()='" + label + "']");
    }

    private static By routeRow(String routeId) {
        return By.xpath("//table//tr[td[@data-label='Name' and normalize-space()='" + routeId + "']]");
    }

    /** The cells of a route's row in the Routes table, by column label. */
    private Map<String, String> routeRowCells(String routeId) {
        Map<String, String> cells = new LinkedHashMap<>();
        for (WebElement cell : browser.findElement(routeRow(routeId)).findElements(By.xpath("td[@data-label]"))) {
            cells.put(cell.getDomAttribute("data-label"), cell.getText().trim());
        }
        return cells;
    }

    private static void waitFor(String what, By locator) {
        waitUntil(what, ExpectedConditions.visibilityOfElementLocated(locator));
    }

    private static void click(String what, By locator) {
        waitUntil(what, driver -> {
            driver.findElement(locator).click();
            return true;
        });
    }

    /**
     * Waits until the condition gives a value (not null or false). Hawtio re-renders its views as its Jolokia
     * answers come in, so elements found a moment ago may be replaced: such attempts are repeated.
     */
    private static <T> T waitUntil(String what, Function<WebDriver, T> condition) {
        try {
            return wait.ignoring(StaleElementReferenceException.class)
                    .ignoring(ElementClickInterceptedException.class)
                    .ignoring(ElementNotInteractableException.class)
                    .withMessage(() -> "Hawtio did not show " + what + "; the browser is at "
                            + browser.getCurrentUrl() + " showing:\n" + pageTextExcerpt())
                    .until(condition);
        } catch (TimeoutException e) {
            String name = what.replaceAll("[^A-Za-z0-9]+", "-");
            screenshot("failed-" + name.substring(0, Math.min(name.length(), 60)) + ".png");
            throw e;
        }
    }

    /** Hawtio logs itself out (back to the sign-in page) when its Jolokia calls are refused. */
    private static void assertStillInHawtio() {
        assertThat(browser.getCurrentUrl()).as("page after Hawtio's Jolokia calls").contains("/actuator/hawtio/")
                .doesNotContain("/login");
        assertThat(pageText()).doesNotContain("Please sign in", "Insufficient permissions");
    }

    private static String pageText() {
        return browser.findElements(By.tagName("body")).stream().findFirst().map(WebElement::getText).orElse("");
    }

    private static String pageTextExcerpt() {
        String text = pageText();
        return text.length() > 2000 ? text.substring(0, 2000) + "…" : text;
    }

    private static void screenshot(String name) {
        try {
            Files.write(SCREENSHOTS.resolve(name), ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
        } catch (IOException e) {
            throw new IllegalStateException("cannot save screenshot " + name, e);
        }
    }

    private String baseUrl() {
        return "http://127.0.0.1:" + port;
    }

    /** An executable on the PATH, or a failed test saying how to install it. */
    private static Path onPath(String name) {
        Optional<Path> found = Arrays.stream(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator))
                .filter(dir -> !dir.isEmpty())
                .map(dir -> Path.of(dir, name))
                .filter(Files::isExecutable)
                .findFirst();
        if (found.isEmpty()) {
            fail(name + " is not installed (not on the PATH). HawtioBrowserIT needs Debian's chromium and "
                    + "chromium-driver: run bin/ensure-chromium (apt-get install -y chromium chromium-driver)");
        }
        return found.get();
    }
}
