import Foundation
import SlipwayCore
import SlipwayTesting
import Testing

/// The dashboard in a real browser: headless Chromium (Debian's) against the real
/// `slipway server` during a real canary rollout of hello-app under traffic. The test logs
/// in through the page's form, watches the canary's weight move 10 % → 50 % when the
/// page's promote button is clicked, opens a rollout's decisions, rolls back with the
/// page's button, logs out and in as a viewer (no buttons), and saves a screenshot of
/// each stage.
@Suite(.serialized) struct DashboardBrowserTests {
    /// Where the screenshots go (printed by the test).
    static let screenshots = FileManager.default.currentDirectoryPath + "/.build/dashboard-screenshots"

    static func card(_ expression: String) -> String {
        "(() => { const c = document.querySelector('[data-unit=\"hello\"]'); return c ? \(expression) : null; })()"
    }

    /// `expression` over the texts of the delivery report's row `metric` (`c[0]` name, `c[1]` value, `c[2]` detail).
    static func report(_ metric: String, _ expression: String) -> String {
        "(() => { const r = document.querySelector('#report-body tr[data-metric=\"\(metric)\"]'); if (!r) return null; const c = [...r.children].map((x) => x.textContent); return \(expression); })()"
    }

    // No skip when Chromium is missing: launching it fails the test (scripts/test.sh installs it).
    @Test
    func theDashboardShowsTheCanaryWeightChangeAndTheRollback() async throws {
        // The first release's post-deploy checks (`verify:`) show on its card: T+2s passes, T+1h waits.
        let verify = """

            verify:
              after: [2s, 1h]
              command: { run: [sh, -c, 'echo all good'], timeout: 20s }
            """
        try await withHello(replicas: 1, extra: CanaryTests.quickAnalysis + verify, strategy: CanaryTests.canary("[ {weight: 10}, {pause: {}}, {weight: 50}, {pause: {}} ]")) { h, port in
            try? FileManager.default.removeItem(atPath: Self.screenshots)
            print("dashboard screenshots: \(Self.screenshots)")
            let browser = try await HeadlessChromium.launch()
            let probe = TrafficProbe(port: port)
            do {
                try await run(h, browser, port: port)
                _ = await probe.stop()
                await browser.close()
            } catch {
                _ = await probe.stop()
                try? await browser.screenshot(to: Self.screenshots + "/failure.png")
                print("page at failure: \((try? await browser.string("document.body.innerText")) ?? "?")")
                await browser.close()
                throw error
            }
        }
    }

    func waitFor(_ browser: HeadlessChromium, _ what: String, _ expression: String, timeout: Duration = .seconds(60)) async throws {
        _ = try await eventually(what, timeout: timeout, every: .milliseconds(100)) {
            try await browser.evaluate(expression) as? Bool == true ? true : nil
        }
    }

    func run(_ h: SlipwayHarness, _ browser: HeadlessChromium, port: Int) async throws {
        // First load: the login form (no session yet).
        let started = ContinuousClock.now
        try await browser.navigate(h.apiURL + "/dashboard")
        try await waitFor(browser, "the login form", "document.body.dataset.state === 'login' && !document.getElementById('login').hidden", timeout: .seconds(30))
        let loaded = ContinuousClock.now - started
        let navigation = try await browser.evaluate("Math.round(performance.getEntriesByType('navigation')[0].loadEventEnd)") as? Double
        print("dashboard first load: login form shown after \(loaded) (load event at \(navigation.map { "\($0) ms" } ?? "?"))")
        try await browser.screenshot(to: Self.screenshots + "/1-login.png")

        // A wrong token is refused in the page.
        _ = try await browser.evaluate("document.getElementById('token').value = 'slw_wrong'; document.getElementById('login-form').requestSubmit(); true")
        try await waitFor(browser, "the refusal to show", "document.getElementById('error').textContent.includes('401')")

        // Log in with the admin token through the form.
        _ = try await browser.evaluate("document.getElementById('token').value = '\(h.adminToken)'; document.getElementById('login-form').requestSubmit(); true")
        try await waitFor(browser, "the grid with hello on v1", Self.card("c.dataset.state === 'stable' && c.dataset.stable === 'v1'"))
        #expect(try await browser.string("document.getElementById('who').textContent")?.contains("admin") == true)
        #expect(try await browser.string("document.cookie")?.contains("slw_") == false, "the session cookie is HttpOnly")
        #expect(try await browser.evaluate("document.getElementById('error').hidden") as? Bool == true, "the failed login's message is cleared")
        // The delivery report (GET /v1/report): the first release succeeded.
        try await waitFor(browser, "the delivery report", Self.report("success_rate", "c[1] === '100.0 %' && c[2] === '1 of 1 deployments'"))
        #expect(try await browser.string(Self.report("deployment_frequency", "c[1]"))?.hasSuffix("per day") == true)
        // The first release's post-deploy checks: T+2s passed (its output in the tooltip), T+1h pending.
        try await waitFor(browser, "the T+2s check to pass on the card", Self.card("c.querySelector('.checks .check[data-status=\"passed\"]') !== null"))
        let checks = try await browser.string(Self.card("c.querySelector('.checks').textContent")) ?? ""
        #expect(checks.hasPrefix("checks of v1 (rollout #1): ") && checks.contains("T+2s passed") && checks.contains("T+1h pending · due "), "\(checks)")
        #expect(try await browser.string(Self.card("c.querySelector('.checks .check[data-status=\"passed\"]').title"))?.contains("all good") == true)

        // A canary: the page shows 10 %, then (its promote button) 50 %.
        let deploy = try await h.cli(["deploy", "hello", "--version", "v2"])
        #expect(deploy.status == 0, "\(deploy.stdout)\(deploy.stderr)")
        try await waitFor(browser, "the canary at 10 %", Self.card("c.dataset.canaryWeight === '10' && c.dataset.state === 'paused'"))
        let bar10 = try await browser.string(Self.card("c.querySelector('.bar').textContent")) ?? ""
        #expect(bar10.contains("v2 10 %") && bar10.contains("v1 90 %"), "\(bar10)")
        #expect(try await browser.string(Self.card("c.querySelector('.step').textContent"))?.contains("step 2/4") == true)
        // Live numbers reach the charts and the table (the probe's traffic).
        try await waitFor(browser, "live request rates", Self.card("[...c.querySelectorAll('tr[data-version=\"v1\"] td')][4].textContent !== '0.0'"))
        try await browser.screenshot(to: Self.screenshots + "/2-canary-10.png")

        _ = try await browser.evaluate(Self.card("(c.querySelector('button[data-action=\"promote\"]').click(), true)"))
        try await waitFor(browser, "the canary at 50 %", Self.card("c.dataset.canaryWeight === '50' && c.dataset.state === 'paused'"))
        let bar50 = try await browser.string(Self.card("c.querySelector('.bar').textContent")) ?? ""
        #expect(bar50.contains("v2 50 %") && bar50.contains("v1 50 %"), "\(bar50)")
        try await browser.screenshot(to: Self.screenshots + "/3-canary-50.png")

        // The rollout's decision chain, from its row in the history.
        try await waitFor(browser, "the rollout in the history", Self.card("c.querySelectorAll('.history tr.row').length >= 2"))
        _ = try await browser.evaluate(Self.card("(c.querySelector('.history tr.row').click(), true)"))
        try await waitFor(browser, "the decisions", "!document.getElementById('why-panel').hidden && document.querySelectorAll('#why-list li[data-kind=\"weight_set\"]').length >= 2 && document.getElementById('why-list').textContent.includes('dashboard')")
        try await browser.screenshot(to: Self.screenshots + "/4-why.png")
        _ = try await browser.evaluate("(document.getElementById('why-close').click(), true)")

        // Roll back with the page's button (it asks for a second click).
        _ = try await browser.evaluate(Self.card("(c.querySelector('button[data-action=\"rollback\"]').click(), true)"))
        #expect(try await browser.string(Self.card("c.querySelector('button[data-action=\"rollback\"]').textContent")) == "confirm rollback?")
        _ = try await browser.evaluate(Self.card("(c.querySelector('button[data-action=\"rollback\"]').click(), true)"))
        try await waitFor(browser, "the rollback", Self.card("c.dataset.state === 'rolled_back' && c.dataset.stable === 'v1' && c.dataset.canaryWeight === '0'"))
        // The weight bar follows the next snapshot (the card's state may come first).
        try await waitFor(browser, "the bar at v1 100 %", Self.card("c.querySelector('.bar').textContent.includes('v1 100 %') && !c.querySelector('.bar').textContent.includes('v2')"))
        #expect(try await browser.string(Self.card("c.querySelector('.phase').textContent")) == "rolled back")
        // The report follows: v2 took traffic and was rolled back.
        try await waitFor(browser, "the report to count the rollback", Self.report("change_failure_rate", "c[1] === '50.0 %' && c[2] === '1 of 2 that took traffic'"))
        #expect(try await browser.string(Self.report("rollback_rate", "c[2]")) == "1 rollbacks")
        try await browser.screenshot(to: Self.screenshots + "/5-rolled-back.png")
        for _ in 0..<10 { #expect(try await h.versionAt(port: port) == "v1") }

        // The page stayed healthy: no exception, no CSP violation, no error shown.
        #expect(browser.exceptions.isEmpty, "\(browser.exceptions)")
        #expect(!browser.consoleErrors.contains { $0.contains("Content Security Policy") }, "\(browser.consoleErrors)")
        let shownError = try await browser.string("document.getElementById('error').textContent") ?? ""
        #expect(shownError.isEmpty, "the page shows an error: \(shownError)")

        // Log out: the cookie is gone. A viewer then sees the units but no buttons.
        _ = try await browser.evaluate("(document.getElementById('logout').click(), true)")
        try await waitFor(browser, "the login form after logout", "document.body.dataset.state === 'login'")
        #expect(try await browser.evaluate("fetch('/v1/whoami').then((r) => r.status)") as? Int == 401)
        let viewer = try await h.cli(["token", "create", "watcher", "--role", "viewer"])
        #expect(viewer.status == 0, "\(viewer.stderr)")
        let viewerToken = viewer.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await browser.evaluate("document.getElementById('token').value = '\(viewerToken)'; document.getElementById('login-form').requestSubmit(); true")
        try await waitFor(browser, "the viewer's grid", "document.body.dataset.role === 'viewer' && " + Self.card("c.dataset.state === 'rolled_back'"))
        #expect(try await browser.evaluate(Self.card("c.querySelectorAll('.actions button').length")) as? Int == 0, "a viewer gets no buttons")
        try await browser.screenshot(to: Self.screenshots + "/6-viewer.png")
        #expect(browser.exceptions.isEmpty, "\(browser.exceptions)")

        let shots = try FileManager.default.contentsOfDirectory(atPath: Self.screenshots).filter { $0.hasSuffix(".png") }
        #expect(shots.count == 6, "\(shots)")
    }
}
