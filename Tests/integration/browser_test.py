#!/usr/bin/env python3
"""The inbox and the widget in a real browser (Debian's chromium + chromedriver, driven by Selenium),
against a real `parley serve`:

  sign in with a password → Needs response lists the conversation with a Reply button → reply → the
  conversation moves to Waiting on user → the customer replies in the widget (embedded by /widget.js in
  a host page on another port) → the agent's open page updates live, without a reload → resolve → the
  widget still lists it as resolved → the customer's reply reopens it, live again → an HTML/script payload
  renders as text → the same sign-in and reply work with JavaScript off.

Usage: browser_test.py path/to/parley [--screenshots DIR] [--database-url URL]   # URL: two servers on one PostgreSQL
"""
import http.server
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

ADMIN = "browser-test-admin-token"
PASSWORD = "correct horse battery"
PAYLOAD = "<script>window.__pwned = 1</script><b>bold?</b> <img src=x onerror=\"window.__pwned = 2\">"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, path, body, token=ADMIN):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def browser(javascript=True):
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860", "--disable-gpu"]:
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)


def read_again_if_replaced(condition):
    """A form post navigates, and live updates replace regions: an element found just before the page changed
    is reported as stale, or (Chromium, mid-navigation) as "Node with given id does not belong to the document";
    either way the condition is evaluated again on the new page."""
    def evaluate(driver):
        try:
            return condition(driver)
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return False
            raise
    return evaluate


def wait(driver, condition, what, seconds=20):
    try:
        return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(read_again_if_replaced(condition))
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}; page: {driver.current_url}\n{driver.page_source[:2000]}")


def png(width, height):
    """A PNG of a blue frame around white, written with zlib (no imaging library needed)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b""
    for y in range(height):
        row = b"\x00"
        for x in range(width):
            edge = x < 6 or y < 6 or x >= width - 6 or y >= height - 6
            row += b"\x0b\x57\xd0" if edge else b"\xff\xff\xff"
        rows += row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def wait_until_up(base):
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{base} did not start")


def sign_in(driver, base, email=None, password=None, token=None):
    """Signs in from the sign-in page, with an email and password or with a token."""
    driver.get(base + "/inbox/sign-in")
    if token:
        driver.find_element(By.NAME, "token").send_keys(token)
    else:
        driver.find_element(By.NAME, "email").send_keys(email)
        driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()


def stage_badge(driver):
    return driver.find_element(By.ID, "stage").get_attribute("data-stage")


def main():
    binary = sys.argv[1]
    shots = sys.argv[sys.argv.index("--screenshots") + 1] if "--screenshots" in sys.argv else None
    work = tempfile.mkdtemp(prefix="parley-browser-")
    db = os.path.join(work, "parley.sqlite")
    # --database-url URL: two servers on that PostgreSQL database, the inbox on the first and the widget on
    # the second, so that every live update the test waits for crosses from one server to the other.
    database_url = sys.argv[sys.argv.index("--database-url") + 1] if "--database-url" in sys.argv else None
    database = ["--database-url", database_url] if database_url else ["--db", db]
    port, host_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([binary, "serve", "--port", str(port), *database, "--log-level", "error"],
                              env=dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN), stdout=subprocess.DEVNULL)
    servers = [server]
    widget_base = base
    host = None
    drivers = []
    try:
        wait_until_up(base)
        if database_url:
            widget_port = free_port()
            widget_base = f"http://127.0.0.1:{widget_port}"
            servers.append(subprocess.Popen([binary, "serve", "--port", str(widget_port), *database, "--log-level", "error"],
                                            env=dict(os.environ, PARLEY_ADMIN_TOKEN=ADMIN), stdout=subprocess.DEVNULL))
            wait_until_up(widget_base)
            print(f"  two servers on one PostgreSQL database: the inbox on {base}, the widget on {widget_base}")
        # The team and a customer, through the API.
        maya = call(port, "dev-users.create", {"email": "maya@support.test", "display_name": "Maya"})["dev_user"]["id"]
        agent_token = call(port, "auth-tokens.create", {"requested_token_type": "urn:devrev:params:oauth:token-type:pat",
                                                        "act_as": maya})["access_token"]
        account = call(port, "accounts.create", {"display_name": "Acme", "domains": ["acme.test"], "owned_by": [maya]},
                       agent_token)["account"]["id"]
        org = call(port, "rev-orgs.get", {"account": account}, agent_token)["rev_org"]["id"]
        alice = call(port, "rev-users.create", {"display_name": "Alice", "email": "alice@acme.test", "rev_org": org},
                     agent_token)["rev_user"]["id"]
        customer_token = call(port, "auth-tokens.create", {"requested_token_type": "urn:devrev:params:oauth:token-type:session",
                                                           "rev_info": {"user_id": alice}})["access_token"]
        subprocess.run([binary, "users", "set-password", *database, "--email", "maya@support.test"],
                       input=PASSWORD + "\n", text=True, check=True, stdout=subprocess.DEVNULL)
        # A conversation waiting for an answer (customer → agent → customer), with a hostile message.
        conversation = call(port, "conversations.create", {"type": "support", "title": "Export to CSV fails",
                                                           "messages": [{"body": PAYLOAD}]}, customer_token)["conversation"]
        number = conversation["display_id"].split("-")[1]
        call(port, "timeline-entries.create", {"object": conversation["id"], "body": "Which browser do you use?"}, agent_token)
        call(port, "timeline-entries.create", {"object": conversation["id"], "body": "Firefox 128"}, customer_token)
        other = call(port, "conversations.create", {"type": "support", "title": "Invoice address",
                                                    "messages": [{"body": "Please change our invoice address"}]}, customer_token)
        call(port, "timeline-entries.create", {"object": other["conversation"]["id"], "body": "Sure, what is it?"}, agent_token)
        call(port, "timeline-entries.create", {"object": other["conversation"]["id"], "body": "1 Main St"}, customer_token)

        # The host application's page, embedding the widget with the one-line snippet.
        page = (f'<!doctype html><html><head><title>Acme app</title></head><body><h1>Acme app</h1>'
                f'<script src="{widget_base}/widget.js" data-token="{customer_token}" async></script></body></html>')

        class Host(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(page.encode())

            def log_message(self, *args):
                pass

        host = http.server.ThreadingHTTPServer(("127.0.0.1", host_port), Host)
        threading.Thread(target=host.serve_forever, daemon=True).start()

        checks = []

        def check(name):
            checks.append(name)
            print(f"  ok  {name}")

        agent = browser()
        drivers.append(agent)
        agent.get(base + "/inbox")
        wait(agent, EC.presence_of_element_located((By.NAME, "email")), "the sign-in form")
        agent.find_element(By.NAME, "email").send_keys("maya@support.test")
        agent.find_element(By.NAME, "password").send_keys(PASSWORD)
        agent.find_element(By.CSS_SELECTOR, "form.signin button[type=submit]").click()
        wait(agent, EC.presence_of_element_located((By.CSS_SELECTOR, "table.list")), "the inbox list")
        assert agent.find_element(By.TAG_NAME, "h1").text == "Needs response"
        rows = agent.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
        assert len(rows) == 2, f"two conversations need a response, saw {len(rows)}"
        assert all(row.find_elements(By.CSS_SELECTOR, "a[data-action=reply]") for row in rows), "every row has a Reply button"
        assert agent.find_element(By.ID, "count-needs_response").text == "2"
        check("sign in with email and password; Needs response lists both conversations, each with a Reply button")
        if shots:
            agent.save_screenshot(os.path.join(shots, "inbox.png"))

        # Keyboard: j moves the selection, r opens the reply box of the selected conversation.
        agent.find_element(By.TAG_NAME, "body").send_keys("j")
        assert "selected" in rows[1].get_attribute("class")
        agent.find_element(By.TAG_NAME, "body").send_keys("k")
        target = agent.find_element(By.CSS_SELECTOR, f"tr[data-conversation='CONV-{number}'] a[data-action=reply]")
        target.click()
        wait(agent, EC.presence_of_element_located((By.ID, "reply-body")), "the conversation page")
        wait(agent, lambda d: d.switch_to.active_element.get_attribute("id") == "reply-body", "Reply to land in the reply box")
        assert stage_badge(agent) == "needs_response"

        # The hostile payload is text: visible as typed, no element made from it, no script ran.
        first = agent.find_elements(By.CSS_SELECTOR, "article.entry .body")[0]
        assert first.text == PAYLOAD, first.text
        assert not first.find_elements(By.CSS_SELECTOR, "b, img, script")
        assert agent.execute_script("return window.__pwned === undefined")
        check("an HTML/script payload in a message renders as text, and runs nothing")

        agent.find_element(By.ID, "reply-body").send_keys("Fixed in today's release, please try again.")
        agent.find_element(By.CSS_SELECTOR, "#reply button[type=submit]").click()
        wait(agent, lambda d: stage_badge(d) == "waiting_on_user", "Waiting on user after the reply")
        check("reply from the conversation page; the conversation moves to Waiting on user")

        # The customer, in the host application's page, opens the widget and answers.
        customer = browser()
        drivers.append(customer)
        customer.get(f"http://127.0.0.1:{host_port}/")
        wait(customer, EC.element_to_be_clickable((By.CSS_SELECTOR, "button[data-parley-widget=button]")), "the widget button").click()
        frame = wait(customer, EC.presence_of_element_located((By.CSS_SELECTOR, "iframe[data-parley-widget=frame]")), "the widget frame")
        customer.switch_to.frame(frame)
        wait(customer, EC.presence_of_element_located((By.CSS_SELECTOR, f"a.card[data-conversation='CONV-{number}']")),
             "the conversation in the widget").click()
        wait(customer, EC.presence_of_element_located((By.ID, "reply-body")), "the widget's thread")
        thread = customer.find_element(By.ID, "thread").text
        assert "Fixed in today's release" in thread
        if shots:
            customer.switch_to.default_content()
            customer.save_screenshot(os.path.join(shots, "widget.png"))
            customer.switch_to.frame(frame)

        agent.execute_script("window.__notReloaded = true")
        customer.find_element(By.ID, "reply-body").send_keys("Still failing on large exports")
        # A screenshot chosen in the file picker, and a log dropped on the form (the page's script adds a dropped
        # file to the picker, as it does a pasted one).
        screenshot = os.path.join(work, "export-error.png")
        with open(screenshot, "wb") as f:
            f.write(png(160, 90))
        customer.find_element(By.CSS_SELECTOR, "form.reply input[type=file]").send_keys(screenshot)
        customer.execute_script("""
            var data = new DataTransfer();
            data.items.add(new File(["ERROR export timed out after 30 s\\n"], "export.log", {type: "text/plain"}));
            document.getElementById("reply").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        """)
        wait(customer, lambda d: "export.log" in d.find_element(By.CSS_SELECTOR, "label.files ul").text, "the dropped file listed")
        customer.find_element(By.CSS_SELECTOR, "form.reply button[type=submit]").click()
        wait(customer, lambda d: "Still failing on large exports" in d.find_element(By.ID, "thread").text, "the customer's reply")
        wait(agent, lambda d: stage_badge(d) == "needs_response", "the agent's page to update live to Needs response")
        wait(agent, lambda d: "Still failing on large exports" in d.find_element(By.ID, "timeline").text, "the new message, live")
        assert agent.execute_script("return window.__notReloaded === true"), "updated without a reload"
        check("the customer replies in the widget; the agent's open page updates live, without a reload")
        image = wait(agent, EC.presence_of_element_located((By.CSS_SELECTOR, "#timeline a.attachment.image img")), "the screenshot in the inbox")
        wait(agent, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 160, "the screenshot loaded")
        log = agent.find_element(By.CSS_SELECTOR, "#timeline a.attachment.file")
        assert "export.log" in log.text and log.get_attribute("download") is not None, log.get_attribute("outerHTML")
        wait(customer, lambda d: d.execute_script(
            "var i = document.querySelector('#thread a.attachment.image img'); return i && i.complete && i.naturalWidth") == 160,
            "the screenshot shown in the widget too")
        check("attachments: a screenshot picked and a log dropped in the widget show in the inbox, the image previewed, the log a download")
        if shots:
            agent.execute_script("arguments[0].scrollIntoView({block: 'center'})", image)
            agent.save_screenshot(os.path.join(shots, "attachments.png"))

        agent.find_element(By.ID, "reply-body").send_keys("Found it: exports over 10k rows timed out. Fixed.")
        agent.find_element(By.CSS_SELECTOR, "#reply button[type=submit]").click()
        wait(agent, lambda d: stage_badge(d) == "waiting_on_user", "Waiting on user")
        Select(agent.find_element(By.ID, "resolve-resolution")).select_by_value("fixed")
        agent.find_element(By.CSS_SELECTOR, "form[data-form=resolve] button").click()
        wait(agent, lambda d: stage_badge(d) == "resolved", "Resolved")
        check("resolve with a resolution")
        if shots:
            agent.save_screenshot(os.path.join(shots, "conversation.png"))

        customer.find_element(By.LINK_TEXT, "← All conversations").click()
        card = wait(customer, EC.presence_of_element_located((By.CSS_SELECTOR, f"a.card[data-conversation='CONV-{number}']")), "the card")
        assert card.find_element(By.CSS_SELECTOR, "[data-state]").get_attribute("data-state") == "resolved"
        check("the widget still lists the resolved conversation, as resolved")
        card.click()
        wait(customer, EC.presence_of_element_located((By.ID, "status")), "the thread")
        assert customer.find_element(By.ID, "status").get_attribute("data-stage") == "resolved"
        customer.find_element(By.ID, "reply-body").send_keys("Sorry, one more question about this")
        customer.find_element(By.CSS_SELECTOR, "form.reply button[type=submit]").click()
        wait(customer, lambda d: d.find_element(By.ID, "status").get_attribute("data-stage") == "needs_response", "reopened")
        wait(agent, lambda d: stage_badge(d) == "needs_response", "the agent's page to show the reopened conversation live")
        check("the customer's reply in the widget reopens it; the agent sees it live")

        # The inbox list updates live too: the count of Needs response follows.
        agent.get(base + "/inbox?view=needs_response")
        wait(agent, lambda d: d.find_element(By.ID, "count-needs_response").text == "2", "count 2")
        agent.execute_script("window.__notReloaded = true")
        call(port, "timeline-entries.create", {"object": other["conversation"]["id"], "body": "Done, updated."}, agent_token)
        wait(agent, lambda d: d.find_element(By.ID, "count-needs_response").text == "1", "the count to drop live")
        assert len(agent.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) == 1
        assert agent.execute_script("return window.__notReloaded === true")
        check("the inbox's counts and rows update live")

        # Search.
        search = agent.find_element(By.ID, "search")
        search.send_keys("invoice")
        search.submit()
        wait(agent, lambda d: "Search: invoice" in d.find_element(By.TAG_NAME, "h1").text, "search results")
        titles = [a.text for a in agent.find_elements(By.CSS_SELECTOR, "td.title a")]
        assert titles == ["Invoice address"], titles
        check("full-text search")

        # A team lead sets the team up in the admin pages: an agent with a password, a group with that
        # agent, a tag; the new agent signs in and puts the tag on a conversation.
        lead = browser()
        drivers.append(lead)
        sign_in(lead, base, token=ADMIN)
        wait(lead, EC.presence_of_element_located((By.CSS_SELECTOR, "a[href='/inbox/admin']")), "the Admin link for an admin").click()
        wait(lead, EC.presence_of_element_located((By.ID, "add-agent")), "the agents page")
        form = lead.find_element(By.ID, "add-agent")
        form.find_element(By.NAME, "email").send_keys("sam@support.test")
        form.find_element(By.NAME, "display_name").send_keys("Sam")
        form.find_element(By.NAME, "password").send_keys(PASSWORD)
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lead, lambda d: "Agent added." in d.find_element(By.CSS_SELECTOR, ".flash").text, "the agent added")
        assert lead.find_elements(By.CSS_SELECTOR, "tr[data-agent='sam@support.test']")
        lead.find_element(By.LINK_TEXT, "Groups").click()
        form = wait(lead, EC.presence_of_element_located((By.ID, "add-group")), "the groups page")
        form.find_element(By.NAME, "name").send_keys("Escalations")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lead, lambda d: "Group added." in d.find_element(By.CSS_SELECTOR, ".flash").text, "the group added")
        row = lead.find_element(By.CSS_SELECTOR, "tr[data-group='Escalations']")
        Select(row.find_element(By.NAME, "member")).select_by_visible_text("Sam")
        row.find_element(By.CSS_SELECTOR, "form.inline button[type=submit]").click()
        wait(lead, lambda d: "Member added." in d.find_element(By.CSS_SELECTOR, ".flash").text, "the member added")
        assert "Sam" in lead.find_element(By.CSS_SELECTOR, "tr[data-group='Escalations']").text
        lead.find_element(By.LINK_TEXT, "Tags").click()
        form = wait(lead, EC.presence_of_element_located((By.ID, "add-tag")), "the tags page")
        form.find_element(By.NAME, "name").send_keys("VIP")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait(lead, lambda d: "Tag added." in d.find_element(By.CSS_SELECTOR, ".flash").text, "the tag added")
        if shots:
            lead.save_screenshot(os.path.join(shots, "admin-tags.png"))
        sam = browser()
        drivers.append(sam)
        sign_in(sam, base, "sam@support.test", PASSWORD)
        wait(sam, EC.presence_of_element_located((By.ID, "views")), "Sam's inbox")
        assert not sam.find_elements(By.CSS_SELECTOR, "a[href='/inbox/admin']"), "an agent sees no Admin link"
        sam.get(f"{base}/inbox/conversations/{number}")
        Select(wait(sam, EC.presence_of_element_located((By.NAME, "add_tag")), "the add-tag form")).select_by_visible_text("VIP")
        sam.find_element(By.XPATH, "//select[@name='add_tag']/following-sibling::button").click()
        wait(sam, lambda d: any(b.text.startswith("VIP") for b in d.find_elements(By.CSS_SELECTOR, ".badge")), "the VIP tag on the conversation")
        check("admin pages: an admin adds an agent, a group with that agent and a tag; the agent signs in and uses the tag")

        # A saved reply, put in the reply box with "/" and a few letters, its placeholders filled.
        call(port, "saved-replies.create", {"title": "Refund issued", "shared": True,
                                            "body": "Hi {customer_first_name}, the refund is on its way. {agent_name}"}, agent_token)
        sam.get(f"{base}/inbox/conversations/{number}")
        box = wait(sam, EC.presence_of_element_located((By.ID, "reply-body")), "the reply box")
        box.send_keys("Good news. /ref")
        wait(sam, lambda d: d.find_element(By.ID, "reply-picker").is_displayed()
             and d.find_element(By.CSS_SELECTOR, "#reply-picker li.active").text == "Refund issued", "the saved-reply picker")
        box.send_keys(Keys.ENTER)
        wait(sam, lambda d: d.find_element(By.ID, "reply-body").get_attribute("value")
             == "Good news. Hi Alice, the refund is on its way. Sam", "the saved reply in the box")
        check("a saved reply: '/' and a few letters in the reply box, Enter puts it in, filled in for the customer and the agent")

        # Two agents on one conversation see each other: Maya opens it while Sam is typing there.
        agent.get(f"{base}/inbox/conversations/{number}")
        wait(agent, EC.presence_of_element_located((By.ID, "presence")), "Maya's page")
        sam.find_element(By.ID, "reply-body").send_keys(" Thanks!")
        wait(agent, lambda d: "Sam is" in d.find_element(By.ID, "presence").text, "Sam shown on Maya's page", seconds=20)
        wait(sam, lambda d: "Maya is viewing this conversation" in d.find_element(By.ID, "presence").text, "Maya shown on Sam's page", seconds=20)
        check("two agents on one conversation see each other, live")

        # Bulk: three conversations waiting for an answer, selected in the list and resolved at once.
        bulk = []
        for title in ["Bulk one", "Bulk two", "Bulk three"]:
            created = call(port, "conversations.create", {"type": "support", "title": title, "messages": [{"body": "Same question"}]},
                           customer_token)["conversation"]
            bulk.append(created["display_id"])
        agent.get(base + "/inbox?view=new")
        for display_id in bulk:
            wait(agent, EC.element_to_be_clickable((By.CSS_SELECTOR, f"tr[data-conversation='{display_id}'] input[name=selected]")),
                 f"{display_id}'s checkbox").click()
        Select(agent.find_element(By.CSS_SELECTOR, "#bulk select[name=action]")).select_by_value("resolve")
        Select(agent.find_element(By.CSS_SELECTOR, "#bulk select[name=resolution]")).select_by_value("answered")
        agent.find_element(By.CSS_SELECTOR, "#bulk button[type=submit]").click()
        wait(agent, lambda d: "3 conversations changed." in d.find_element(By.CSS_SELECTOR, ".flash").text, "the bulk action's notice")
        stages = [call(port, "conversations.get", {"id": display_id}, agent_token)["conversation"]["stage"]["name"] for display_id in bulk]
        assert stages == ["resolved"] * 3, stages
        check("bulk: three conversations selected in the list and resolved at once, with a resolution")

        # Routing rules in the admin pages: explain and simulate before saving, then a widget conversation
        # lands with the rule's owner.
        sam_id = next(u["display_id"] for u in call(port, "dev-users.list", {})["dev_users"] if u["email"] == "sam@support.test")
        lead.get(base + "/inbox/admin/routing")
        rules = wait(lead, EC.presence_of_element_located((By.NAME, "rules")), "the routing page")
        rules.clear()
        rules.send_keys(json.dumps({"rules": [{"id": "refunds", "keywords": ["refund"], "owner": sam_id}]}))
        lead.find_element(By.NAME, "title").send_keys("Refund please")
        lead.find_element(By.NAME, "email").send_keys("alice@acme.test")
        lead.find_element(By.CSS_SELECTOR, "button[value=explain]").click()
        wait(lead, lambda d: d.find_element(By.ID, "explain-owner").text == "Sam", "explain: Sam would own it")
        assert "refunds" in lead.find_element(By.ID, "explain-why").text
        lead.find_element(By.CSS_SELECTOR, "button[value=simulate]").click()
        summary = wait(lead, EC.presence_of_element_located((By.ID, "simulate-summary")), "simulate's answer").text
        assert "conversations replayed" in summary, summary
        lead.find_element(By.CSS_SELECTOR, "button[value=save]").click()
        wait(lead, lambda d: "Routing rules saved" in d.find_element(By.CSS_SELECTOR, ".flash").text, "the rules saved")
        if shots:
            lead.save_screenshot(os.path.join(shots, "admin-routing.png"))
        asker = browser()
        drivers.append(asker)
        asker.get(f"{widget_base}/widget?token={customer_token}")
        wait(asker, EC.presence_of_element_located((By.ID, "new-title")), "the widget").send_keys("Refund for a double charge")
        asker.find_element(By.ID, "reply-body").send_keys("I was charged twice, a refund please.")
        asker.find_element(By.CSS_SELECTOR, "form.reply button[type=submit]").click()
        wait(asker, EC.presence_of_element_located((By.ID, "thread")), "the new conversation in the widget")
        sam.get(base + "/inbox?view=new&scope=mine")
        wait(sam, lambda d: "Refund for a double charge" in d.find_element(By.ID, "list").text, "the widget conversation in Sam's own list")
        check("routing rules: explain and simulate answer in the admin page, save, and a new widget conversation lands with the rule's owner")

        # Without JavaScript: sign in and reply with plain forms.
        plain = browser(javascript=False)
        drivers.append(plain)
        sign_in(plain, base, "maya@support.test", PASSWORD)
        wait(plain, EC.presence_of_element_located((By.CSS_SELECTOR, "a[data-action=reply]")), "a Reply button without JS").click()
        wait(plain, EC.presence_of_element_located((By.ID, "reply-body")), "the page without JS")
        plain.find_element(By.ID, "reply-body").send_keys("Answer sent without JavaScript")
        plain.find_element(By.CSS_SELECTOR, "#reply button[type=submit]").click()
        wait(plain, lambda d: stage_badge(d) == "waiting_on_user", "the reply without JS")
        check("without JavaScript, sign-in, Reply and the reply form work as plain links and forms")
        print(f"browser test: {len(checks)} checks passed")
    finally:
        for driver in drivers:
            try:
                driver.quit()
            except Exception:
                pass
        if host:
            host.shutdown()
        for running in servers:
            running.terminate()
            running.wait(timeout=10)


if __name__ == "__main__":
    main()
