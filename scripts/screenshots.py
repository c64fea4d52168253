#!/usr/bin/env python3
"""Takes the screenshots in docs/screenshots/ from `parley serve --demo` in headless chromium.

Usage: scripts/screenshots.py [path/to/parley] (default .build/debug/parley); needs chromium, chromedriver, selenium.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "Tests", "integration"))
from browser_test import browser, free_port, wait, wait_until_up  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402

binary = sys.argv[1] if len(sys.argv) > 1 else ".build/debug/parley"
out = os.path.join(os.path.dirname(__file__), "..", "docs", "screenshots")
db = os.path.join(tempfile.mkdtemp(prefix="parley-shots-"), "demo.sqlite")
port = free_port()
base = f"http://127.0.0.1:{port}"
server = subprocess.Popen([binary, "serve", "--port", str(port), "--db", db, "--demo", "--log-level", "error"],
                          stdout=subprocess.PIPE, text=True)
summary = ""
for line in server.stdout:
    summary += line
    if line.startswith("Parley listening"):
        break
customer_token = re.search(r"customer hank@globex.example: (\S+)", summary).group(1)
admin_token = re.search(r"shown this once:\s+(\S+)", summary).group(1)
drivers = []
try:
    wait_until_up(base)
    agent = browser()
    drivers.append(agent)
    agent.get(base + "/inbox/sign-in")
    agent.find_element(By.NAME, "email").send_keys("maya@support.example")
    agent.find_element(By.NAME, "password").send_keys("parley-demo")
    agent.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    wait(agent, EC.presence_of_element_located((By.CSS_SELECTOR, "table.list")), "the inbox")
    agent.get(base + "/inbox?view=waiting_on_user")
    agent.get(base + "/inbox?view=needs_response")
    agent.save_screenshot(os.path.join(out, "inbox.png"))
    agent.find_element(By.CSS_SELECTOR, "td.title a").click()
    wait(agent, EC.presence_of_element_located((By.ID, "reply-body")), "the conversation")
    agent.save_screenshot(os.path.join(out, "conversation.png"))
    agent.set_window_size(390, 844)
    agent.get(base + "/inbox?view=needs_response")
    agent.save_screenshot(os.path.join(out, "inbox-phone.png"))
    customer = browser()
    drivers.append(customer)
    customer.set_window_size(420, 760)
    customer.get(base + "/widget?token=" + customer_token)
    wait(customer, EC.presence_of_element_located((By.CSS_SELECTOR, "a.card")), "the widget")
    customer.save_screenshot(os.path.join(out, "widget.png"))
    customer.find_element(By.CSS_SELECTOR, "a.card").click()
    wait(customer, EC.presence_of_element_located((By.ID, "thread")), "the thread")
    customer.save_screenshot(os.path.join(out, "widget-thread.png"))
    admin = browser()
    drivers.append(admin)
    admin.get(base + "/inbox/sign-in")
    admin.find_element(By.NAME, "token").send_keys(admin_token)
    admin.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
    wait(admin, EC.presence_of_element_located((By.CSS_SELECTOR, "table.list")), "the admin's inbox")
    admin.get(base + "/inbox/admin/agents")
    wait(admin, EC.presence_of_element_located((By.ID, "add-agent")), "the agents page")
    admin.save_screenshot(os.path.join(out, "admin-agents.png"))
    print("screenshots written to docs/screenshots/")
finally:
    for driver in drivers:
        driver.quit()
    server.terminate()
    server.wait(timeout=10)
