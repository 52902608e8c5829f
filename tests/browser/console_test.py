"""The operator console in Debian's Chromium, against the embedded (all-in-one) host.

One host serves the whole suite: the all-in-one plugins plus the testkit plugin (its "Count"
command can be made to fail on demand: a poison command), SQLite, the in-process bus, and three
console peers: the host itself, a port nobody listens on, and a listener that never answers.
A second host has http.auth on, for the token prompt.
"""
import json
import os
import sys
import tempfile
import time
import unittest
import uuid

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(__file__))
from support import (PLUGIN_DIR, SOURCE_DIR, TEST_PLUGIN_DIR, Blackhole, Host, chromium, free_port,  # noqa: E402
                     http, jwt_hs256, page_errors, quit_browser, screenshot, wait_for)

SECRET = "console-test-secret-0123456789-abcdef"


def embedded_config(directory, port, extra=None):
    """config/all-in-one.json with absolute plugin paths, the testkit plugin and quick retries."""
    with open(os.path.join(SOURCE_DIR, "config", "all-in-one.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.pop("plugin_dir", None)
    for p in cfg["plugins"]:
        p["library"] = os.path.abspath(os.path.join(PLUGIN_DIR, p["library"]))
    cfg["plugins"].append({"library": os.path.abspath(os.path.join(TEST_PLUGIN_DIR, "plexus_testkit.so"))})
    cfg["http"]["port"] = port
    cfg["store"]["url"] = os.path.join(directory, "plexus.db")
    cfg["transport"].update({"max_attempts": 2, "retry_initial_ms": 50, "poll_interval_ms": 200})
    cfg["console"] = {"sample_seconds": 1, "history_minutes": 5}
    cfg.update(extra or {})
    path = os.path.join(directory, "console-test.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    return path


ORDER = {"customerId": "cust-console", "items": [{"productId": "sku-console", "quantity": 1, "unitPrice": 9.5}],
         "shippingAddress": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701",
                             "country": "US"}}


class EmbeddedConsole(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="plexus-console-")
        cls.blackhole = Blackhole()
        port = free_port()
        cls.peers = [{"name": "all-in-one", "url": f"http://127.0.0.1:{port}"},
                     {"name": "gone", "url": f"http://127.0.0.1:{free_port()}"},
                     {"name": "hangs", "url": f"http://127.0.0.1:{cls.blackhole.port}"}]
        config = embedded_config(cls.dir.name, port)
        with open(config, encoding="utf-8") as f:
            cfg = json.load(f)
        cfg["console"].update({"peers": cls.peers, "peer_timeout_ms": 2500})
        with open(config, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        cls.host = Host(config, port, name="all-in-one").wait_ready()
        cls.base = cls.host.url
        status, _, _ = http("PUT", cls.base + "/api/inventory/sku-console", {"availableStock": 1000})
        assert status in (200, 201), status
        cls.driver = chromium()

    @classmethod
    def tearDownClass(cls):
        quit_browser(cls.driver)
        cls.host.stop()
        cls.blackhole.close()
        cls.dir.cleanup()

    def open(self, fragment):
        self.driver.get(f"{self.base}/admin/console/#/{fragment}")
        return wait_for(lambda: self.driver.find_element(By.CSS_SELECTOR, "#view h1"), 15, what=f"view {fragment}")

    def css(self, selector):
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def text_of(self, selector):
        found = self.css(selector)
        return found[0].text if found else ""

    def tearDown(self):
        self.assertEqual(page_errors(self.driver), [], "script errors or CSP violations in the page")

    def place_order(self):
        status, body, _ = http("POST", self.base + "/api/orders", ORDER)
        self.assertEqual(status, 201, body)
        return body["orderId"]

    def dead_letter(self, stream, mode=None):
        """A Count command that fails: RETRY while the 'broken' flag is set (dead after 2 attempts),
        or REJECT for mode 'reject'. Returns once the dead letter is stored."""
        body = {"stream": stream}
        if mode:
            body["mode"] = mode
        self.assertEqual(http("POST", self.base + "/t/count", body)[0], 202)

        def stored():
            _, items, _ = http("GET", self.base + "/admin/dead-letters?type=Count&limit=1000")
            return any(d["stream"] == stream for d in items)
        wait_for(stored, 30, what=f"dead letter of {stream}")

    # ---- the views ----

    def test_static_files_load_without_token_and_carry_a_strict_csp(self):
        status, _, headers = http("GET", self.base + "/admin/console/")
        self.assertEqual(status, 200)
        self.assertIn("script-src 'self'", headers["Content-Security-Policy"])
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(http("GET", self.base + "/admin/console/console.js")[2]["Content-Type"],
                         "text/javascript; charset=utf-8")
        status, _, _ = http("GET", self.base + "/admin/console/", headers={"If-None-Match": headers["ETag"]})
        self.assertEqual(status, 304)

    def test_overview_shows_service_readiness_and_plugins(self):
        self.open("overview")
        wait_for(lambda: self.css('[data-plugin="orders"]'), 15, what="plugin list")
        cards = self.text_of("#ov-cards")
        self.assertIn("all-in-one", cards)
        self.assertIn("ready", cards)
        self.assertIn("sqlite", cards)
        orders = self.text_of('[data-plugin="orders"]')
        self.assertIn("CreateOrder", orders)
        self.assertIn("POST /api/orders", orders)
        self.assertRegex(orders, r"[0-9a-f]{64}")  # sha256
        self.assertIn("store", self.text_of("#ov-ready"))
        screenshot(self.driver, "overview")

    def test_flow_charts_move_when_orders_are_placed(self):
        self.open("flow")

        # POST /api/orders runs CreateOrder in the request; OrderCreated then flows over the bus.
        card = '[data-handler="orders/OrderView"][data-type="OrderCreated"]'

        def handled():
            cards = self.css(card)
            return float(cards[0].get_attribute("data-handled-total")) if cards else 0.0
        before = handled()
        for _ in range(5):
            self.place_order()
        wait_for(lambda: handled() >= before + 5, 20, what="OrderCreated handled total to grow by 5 on the page")
        # the rate line has a non-zero point, drawn without reloading the page
        wait_for(lambda: any(float(p.split(",")[1]) < 88 for p in
                             self.css(card + ' polyline.s-handled')[0]
                             .get_attribute("points").split()), 15, what="a rising handled line")
        self.assertTrue(self.css('[data-latency="orders/OrderView"]'))
        self.assertTrue(self.css('[data-route="POST /api/orders"]'))
        screenshot(self.driver, "flow")

    def test_stream_shows_events_with_links_and_trace_ids(self):
        order = self.place_order()
        wait_for(lambda: len(http("GET", f"{self.base}/admin/streams/{order}")[1]) >= 3, 30, what="the order's events")
        self.open("streams")
        box = self.driver.find_element(By.ID, "stream-id")
        box.send_keys(order, Keys.ENTER)
        wait_for(lambda: len(self.css("#stream-table tbody tr")) >= 3, 15, what="stream rows")
        rows = self.css("#stream-table tbody tr")
        self.assertEqual(rows[0].get_attribute("data-type"), "OrderCreated")
        self.assertRegex(rows[0].find_element(By.CSS_SELECTOR, ".trace").text, r"^[0-9a-f]{32}$")
        self.assertTrue(rows[0].find_elements(By.CSS_SELECTOR, "a.corr"))
        screenshot(self.driver, "stream")
        # correlation link: the events of the order's conversation, across streams and plugins
        # (commands are not kept once published)
        rows[0].find_element(By.CSS_SELECTOR, "a.corr").click()
        wait_for(lambda: "InventoryReserved" in self.text_of("#stream-result"), 15, what="correlated messages")

    def test_dead_letter_retried_from_the_page_is_handled(self):
        stream = f"poison-{uuid.uuid4().hex[:8]}"
        http("PUT", self.base + "/t/flags/broken")
        try:
            self.dead_letter(stream)
        finally:
            http("DELETE", self.base + "/t/flags/broken")  # the cause is fixed before the retry
        self.open("dead-letters?type=Count")
        row = wait_for(lambda: [r for r in self.css("#dl-table tbody tr") if stream in r.text or
                                r.find_elements(By.CSS_SELECTOR, f'a[href="#/streams/{stream}"]')], 15,
                       what="the dead letter in the list")[0]
        row.find_element(By.TAG_NAME, "button").click()
        detail = wait_for(lambda: self.css("#dl-selected"), 10, what="the detail panel")[0]
        self.assertIn("testkit is broken", detail.text)
        self.assertIn(stream, detail.text)
        screenshot(self.driver, "dead-letters")
        self.driver.find_element(By.ID, "dl-retry-one").click()
        wait_for(lambda: "requeued" in self.text_of("#status"), 10, what="the retry result")
        wait_for(lambda: http("GET", f"{self.base}/t/count/{stream}")[1]["n"] == 1, 30, what="the retried command handled")
        wait_for(lambda: not any(f"#/streams/{stream}" in (a.get_attribute("href") or "")
                                 for a in self.css("#dl-table a")), 15, what="the dead letter gone from the page")

    def test_bulk_discard_states_the_count_and_refuses_a_changed_selection(self):
        reason = f"bulk-{uuid.uuid4().hex[:6]}"
        for i in range(2):
            self.dead_letter(f"{reason}-{i}", mode="reject")
        self.open(f"dead-letters?type=Count&reason=count%20refused")
        wait_for(lambda: "match" in self.text_of("#dl-count"), 10, what="the count")
        count = int(self.text_of("#dl-count").split()[0])
        self.assertGreaterEqual(count, 2)
        self.driver.find_element(By.ID, "dl-discard-all").click()
        dialog = wait_for(lambda: [d for d in self.css("#confirm") if d.get_attribute("open") is not None], 5,
                          what="the confirmation")[0]
        self.assertIn(f"Discard {count} dead letter", dialog.text)
        self.assertEqual(self.driver.find_element(By.ID, "confirm-ok").text, f"Discard {count}")
        # meanwhile, one more matches: the confirmed count is stale and nothing is discarded
        self.dead_letter(f"{reason}-late", mode="reject")
        self.driver.find_element(By.ID, "confirm-ok").click()
        wait_for(lambda: "selection changed" in self.text_of("#status"), 10, what="the 409 explained")
        self.assertIn(f"{count + 1} match now", self.text_of("#status"))
        wait_for(lambda: self.text_of("#dl-count").startswith(f"{count + 1} "), 10, what="the new count")
        self.driver.find_element(By.ID, "dl-discard-all").click()
        wait_for(lambda: self.driver.find_element(By.ID, "confirm-ok").text == f"Discard {count + 1}", 5,
                 what="the confirmation with the new count")
        self.driver.find_element(By.ID, "confirm-ok").click()
        wait_for(lambda: f"Discarded {count + 1} of {count + 1}" in self.text_of("#status"), 10, what="the result")
        wait_for(lambda: self.css("#dl-empty"), 10, what="an empty list")

    def test_system_view_marks_dead_and_hanging_peers_and_never_waits_for_them(self):
        started = time.monotonic()
        self.open("system")
        wait_for(lambda: self.css('[data-peer="all-in-one"][data-state="ready"]'), 10, what="this host's card")
        # the hanging peer is still pending when the live one has answered
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertTrue(self.css('[data-peer="hangs"][data-state="waiting"]'))
        self.assertIn("this host", self.text_of('[data-peer="all-in-one"]'))
        wait_for(lambda: self.css('[data-peer="gone"][data-state="unreachable"]'), 10, what="the dead peer")
        wait_for(lambda: self.css('[data-peer="hangs"][data-state="timeout"]'), 15, what="the hanging peer")
        self.assertTrue(self.css('[data-peer="all-in-one"][data-state="ready"]'))

    def test_every_view_fits_a_phone_and_is_keyboard_reachable(self):
        try:
            self.driver.set_window_size(390, 844)
            for view in ("overview", "flow", "dead-letters", "streams", "system"):
                self.open(view)
                wait_for(lambda: "Loading" not in self.text_of("#view"), 10, what=f"{view} loaded")
                overflow = self.driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                self.assertLessEqual(overflow, 0, f"{view} scrolls sideways at phone width")
                if view == "dead-letters":
                    screenshot(self.driver, "phone")
        finally:
            self.driver.set_window_size(1280, 800)
        # keyboard only: skip link, then the nav links in order; Enter opens a view
        self.driver.get("about:blank")  # a fresh load: focus navigation starts at the top
        self.open("overview")
        keys = ActionChains(self.driver)
        keys.send_keys(Keys.TAB).perform()
        self.assertEqual(self.driver.switch_to.active_element.text, "Skip to content")
        reached = []
        for _ in range(5):
            keys.send_keys(Keys.TAB).perform()
            reached.append(self.driver.switch_to.active_element.text.split("\n")[0])
        self.assertEqual(reached, ["Overview", "Flow", "Dead letters", "Streams", "System"])
        keys.send_keys(Keys.ENTER).perform()
        wait_for(lambda: self.text_of("#view h1") == "System", 5, what="the System view by keyboard")


class TokenPrompt(unittest.TestCase):
    """http.auth on for /admin: the files load, the data needs the token, nothing is a cookie."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="plexus-console-auth-")
        port = free_port()
        auth = {"enabled": True, "groups": [{"prefix": "/admin", "issuer": "https://login.test/", "audience": "plexus",
                                             "algorithms": ["HS256"], "hs256_secret": SECRET}]}
        with open(embedded_config(cls.dir.name, port), encoding="utf-8") as f:
            cfg = json.load(f)
        cfg["http"]["auth"] = auth
        path = os.path.join(cls.dir.name, "auth.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f)
        cls.host = Host(path, port, name="auth").wait_ready()
        cls.driver = chromium()

    @classmethod
    def tearDownClass(cls):
        quit_browser(cls.driver)
        cls.host.stop()
        cls.dir.cleanup()

    def token(self, **over):
        claims = {"iss": "https://login.test/", "aud": "plexus", "sub": "operator", "exp": int(time.time()) + 600}
        claims.update(over)
        return jwt_hs256(SECRET, claims)

    def test_prompt_401_without_token_and_session_storage_only(self):
        base = self.host.url
        self.assertEqual(http("GET", base + "/admin/console/")[0], 200)
        self.assertEqual(http("GET", base + "/admin/console/console.js")[0], 200)
        for path in ("/admin/overview", "/admin/dead-letters", "/admin/flow", "/admin/peers", "/admin/plugins"):
            status, body, headers = http("GET", base + path)
            self.assertEqual(status, 401, path)
            self.assertEqual(body, {"error": "missing bearer token"})
            self.assertTrue(headers["WWW-Authenticate"].startswith("Bearer"))
        self.driver.get(base + "/admin/console/")
        wait_for(lambda: self.driver.find_element(By.ID, "login").is_displayed(), 10, what="the token prompt")
        status = self.driver.execute_script(
            "return fetch('/admin/overview').then(r => r.status)")
        self.assertEqual(status, 401)
        screenshot(self.driver, "token")
        box = self.driver.find_element(By.ID, "token")
        box.send_keys(jwt_hs256("a-different-secret-0123456789-abcdef", {"iss": "x"}), Keys.ENTER)
        wait_for(lambda: "refused" in self.driver.find_element(By.ID, "login-error").text, 10, what="the refusal")
        self.assertIn("bad token signature", self.driver.find_element(By.ID, "login-error").text)
        box.clear()
        box.send_keys(self.token(), Keys.ENTER)
        wait_for(lambda: not self.driver.find_element(By.ID, "login").is_displayed(), 10, what="signed in")
        wait_for(lambda: "all-in-one" in self.driver.find_element(By.ID, "ov-cards").text, 10, what="the overview")
        self.assertTrue(self.driver.execute_script("return sessionStorage.getItem('plexus.console.token').length > 20"))
        self.assertEqual(self.driver.execute_script("return localStorage.length"), 0)
        self.assertEqual(self.driver.get_cookies(), [])
        # a reload keeps the session; the live refresh keeps working with the header
        self.driver.refresh()
        wait_for(lambda: "all-in-one" in self.driver.find_element(By.ID, "ov-cards").text, 10, what="overview after reload")
        self.assertFalse(self.driver.find_element(By.ID, "login").is_displayed())
        self.assertEqual([e for e in page_errors(self.driver)], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
