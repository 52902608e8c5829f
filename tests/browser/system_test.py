"""The console's system view over the seven distributed hosts (PostgreSQL + RabbitMQ from
scripts/services: PLEXUS_PG_URL, PLEXUS_AMQP_URL), each started from its shipped config with
console.peers pointed at the others' loopback ports; then one host is stopped.
"""
import os
import signal
import subprocess
import sys
import unittest

from selenium.webdriver.common.by import By

sys.path.insert(0, os.path.dirname(__file__))
from support import (HOST_BIN, PLUGIN_DIR, SOURCE_DIR, Host, chromium, free_port, http,  # noqa: E402
                     page_errors, quit_browser, screenshot, wait_for)

SERVICES = ["order-service", "customer-service", "inventory-worker", "payment-worker", "shipping-worker",
            "notification-worker", "analytics-worker"]


def peer_var(service):
    return "PLEXUS_PEER_" + service.upper().replace("-", "_")


class SystemView(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        pg, amqp = os.environ.get("PLEXUS_PG_URL"), os.environ.get("PLEXUS_AMQP_URL")
        if not pg or not amqp:
            raise RuntimeError("PLEXUS_PG_URL / PLEXUS_AMQP_URL not set: run under scripts/test or "
                               "eval \"$(scripts/services env)\"")
        ports = {s: free_port() for s in SERVICES}
        env = {"PLEXUS_PG_URL": pg, "PLEXUS_AMQP_URL": amqp, "PLEXUS_PLUGIN_DIR": PLUGIN_DIR,
               "PLEXUS_LOG_LEVEL": "warn"}
        env.update({peer_var(s): f"http://127.0.0.1:{p}" for s, p in ports.items()})
        full = dict(os.environ)
        full.update(env)
        cls.configs = {s: os.path.join(SOURCE_DIR, "config", f"{s}.json") for s in SERVICES}
        for s in SERVICES:
            r = subprocess.run([HOST_BIN, "migrate", "--config", cls.configs[s]], env=full, capture_output=True,
                               text=True, timeout=120, check=False)
            assert r.returncode == 0, f"migrate {s}: {r.stderr}"
        cls.hosts = {s: Host(cls.configs[s], ports[s], env, name=s) for s in SERVICES}
        for h in cls.hosts.values():
            h.wait_ready(90, check=lambda b: b["checks"].get("broker") == "connected")
        cls.driver = chromium()

    @classmethod
    def tearDownClass(cls):
        quit_browser(cls.driver)
        for h in cls.hosts.values():
            h.stop()

    def state(self, service):
        cards = self.driver.find_elements(By.CSS_SELECTOR, f'[data-peer="{service}"]')
        return cards[0].get_attribute("data-state") if cards else None

    def test_system_view_of_seven_hosts_with_one_stopped(self):
        order_service = self.hosts["order-service"]
        status, _, _ = http("PUT", self.hosts["inventory-worker"].url + "/api/inventory/sku-system",
                            {"availableStock": 50})
        self.assertIn(status, (200, 201))
        status, order, _ = http("POST", order_service.url + "/api/orders", {
            "customerId": "cust-system", "items": [{"productId": "sku-system", "quantity": 1, "unitPrice": 5}],
            "shippingAddress": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701",
                                "country": "US"}})
        self.assertEqual(status, 201, order)
        self.driver.get(order_service.url + "/admin/console/#/system")
        wait_for(lambda: all(self.state(s) == "ready" for s in SERVICES), 30,
                 what="seven ready hosts in the system view")
        self.assertIn("this host", self.driver.find_element(By.CSS_SELECTOR, '[data-peer="order-service"]').text)
        # the order's stream across the system: events stored by several deployments
        self.driver.get(order_service.url + f"/admin/console/#/streams/{order['orderId']}?across=1")

        def services_in_stream():
            rows = self.driver.find_elements(By.CSS_SELECTOR, "#stream-table tbody tr")
            return {r.find_elements(By.TAG_NAME, "td")[2].text for r in rows}
        wait_for(lambda: {"order-service", "inventory-worker", "payment-worker"} <= services_in_stream(), 60,
                 what="the order's events from three deployments", interval=1.0)
        screenshot(self.driver, "stream-system")

        self.hosts["inventory-worker"].stop(signal.SIGTERM)
        self.driver.get(order_service.url + "/admin/console/#/system")
        others = [s for s in SERVICES if s != "inventory-worker"]
        wait_for(lambda: self.state("inventory-worker") == "unreachable", 30, what="the stopped host marked")
        wait_for(lambda: all(self.state(s) == "ready" for s in others), 30,
                 what="the six others still shown ready")
        self.assertIn("unreachable", self.driver.find_element(By.CSS_SELECTOR, '[data-peer="inventory-worker"]').text)
        screenshot(self.driver, "system")
        self.assertEqual(page_errors(self.driver), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
