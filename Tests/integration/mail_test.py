#!/usr/bin/env python3
"""Email in, against the real binary, with Python's own SMTP and LMTP clients (smtplib) on loopback: a mail
to a mailbox's address opens a conversation for a customer found or created by address (in the org whose
domain matches); a reply tagged [CONV-n] joins it; the same Message-ID delivered twice is stored once; an
out-of-office reply, list mail and a bounce open nothing; an unknown address is refused at RCPT; HTML mail is
read as text; an attached file is kept; LMTP answers per recipient. Run against 127.0.0.1 only.

Usage: mail_test.py PATH_TO_PARLEY [--database-url URL] (an empty PostgreSQL database instead of a SQLite
file). Prints 'mail-test: N passed, M failed' last.
"""
import email, email.policy, http.client, json, os, re, urllib.parse, smtplib, socket, subprocess, sys, tempfile, threading, time, urllib.error, urllib.request, warnings
from email.message import EmailMessage

from harness import Checks, call, free_port

warnings.simplefilter("ignore")  # aiosmtpd warns that its AUTH runs without TLS: it is this test's loopback relay
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Relay:
    """The mailbox's outbound relay: aiosmtpd on loopback, with AUTH (user 'relay-user', password 's3cret-pass')."""

    def __init__(self):
        self.received, self.logins = [], []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                                  email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((mechanism, auth_data.login))
        return AuthResult(success=auth_data.login == b"relay-user" and auth_data.password == b"s3cret-pass")

    def wait(self, count, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.1)
        return list(self.received)

binary = sys.argv[1]
database_url = sys.argv[sys.argv.index("--database-url") + 1] if "--database-url" in sys.argv else None
workdir = tempfile.mkdtemp(prefix="parley-mail-")
check = Checks()





def message(subject, body, sender="Alice Liddell <alice@acme.test>", to="support@acme.test", message_id=None, **headers):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = message_id or f"<{time.time_ns()}@mail.acme.test>"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m


def conversations(port):
    return call(port, "conversations.list", {"limit": 100})[1]["conversations"]


def messages(port, conversation):
    entries = call(port, "timeline-entries.list", {"object": conversation, "limit": 100})[1]["timeline_entries"]
    return [e for e in entries if e.get("type") == "timeline_comment"]


def events_of(port, conversation_id, kind):
    listed = call(port, "timeline-entries.list", {"object": conversation_id, "collections": ["events"], "limit": 100})[1]
    return [e for e in listed.get("timeline_entries", []) if kind in json.dumps(e)]


def copies_and_questions(port, smtp_port, relay, agent_token):
    """CC lists kept per conversation; threading by a later mail's Message-ID; the resolution question by
    mail, automatic, answered by YES; a bouncing address held back."""
    already = len(relay.received)
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.send_message(message("Renewal quote", "Please send the renewal quote.", Cc="Carol <carol@partner.test>, support@acme.test",
                                  message_id="<renewal-1@mail.acme.test>"))
        smtp.send_message(message("Invoice address", "Please change our invoice address.", message_id="<invoice-1@mail.acme.test>"))
    renewal = [c for c in conversations(port) if c["title"] == "Renewal quote"][0]
    invoice = [c for c in conversations(port) if c["title"] == "Invoice address"][0]
    call(port, "timeline-entries.create", {"object": renewal["id"], "body": "Quote attached soon."}, token=agent_token)
    call(port, "timeline-entries.create", {"object": invoice["id"], "body": "Which address?"}, token=agent_token)
    sent = relay.wait(already + 2)[already:]
    by_subject = {m["Subject"]: (rcpts, m) for _, rcpts, m in sent}
    renewal_out = next((v for k, v in by_subject.items() if "Renewal quote" in k), None)
    invoice_out = next((v for k, v in by_subject.items() if "Invoice address" in k), None)
    check(renewal_out is not None and sorted(renewal_out[0]) == ["alice@acme.test", "carol@partner.test"]
          and "carol@partner.test" in (renewal_out[1]["Cc"] or ""),
          f"a reply goes to the customer and to the address copied on her mail (Cc): {renewal_out and renewal_out[0]}")
    check(invoice_out is not None and invoice_out[0] == ["alice@acme.test"] and invoice_out[1]["Cc"] is None,
          f"and nobody copied on one thread gets another's mail: {invoice_out and invoice_out[0]}")
    if renewal_out is None:
        return
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        # Carol, copied, answers Parley's mail: her message joins Alice's conversation.
        smtp.send_message(message("Re: Renewal quote", "Carol here: we need 40 seats.", sender="Carol <carol@partner.test>",
                                  In_Reply_To=renewal_out[1]["Message-ID"]))
        # Alice writes again (tagged), then answers that later mail of hers with neither tag nor Parley id.
        smtp.send_message(message(f"Re: Renewal quote [{renewal['display_id']}]", "And 5 admin seats.",
                                  message_id="<renewal-2@mail.acme.test>"))
        smtp.send_message(message("Re: Renewal quote", "Sorry, 6 admin seats.", In_Reply_To="<renewal-2@mail.acme.test>",
                                  References="<renewal-2@mail.acme.test>"))
    bodies = [e.get("body") for e in messages(port, renewal["id"])]
    check("Carol here: we need 40 seats." in bodies, f"a copied person's reply joins the conversation: {bodies}")
    check(bodies[-1] == "Sorry, 6 admin seats.", f"a reply threads by the Message-ID of a later mail of the thread: {bodies[-2:]}")
    # The agent proposes a resolution: the reply, then the question, automatic, answering it.
    already = len(relay.received)
    proposed = call(port, "conversations.resolution.propose", {"id": renewal["id"], "body": "The quote is in your account."}, token=agent_token)
    check(proposed[0] == 200, f"the agent proposes a resolution: {proposed[0]}")
    sent = relay.wait(already + 2)[already:]
    question = next((m for _, _, m in sent if m["Auto-Submitted"]), None)
    reply = next((m for _, _, m in sent if not m["Auto-Submitted"]), None)
    check(question is not None and question["Auto-Submitted"] == "auto-generated" and reply is not None
          and question["In-Reply-To"] == reply["Message-ID"] and "Reply YES" in question.get_body(preferencelist=("plain",)).get_content(),
          f"the resolution question goes by mail after the reply, marked Auto-Submitted: {[m['Subject'] for _, _, m in sent]}")
    if question is None:
        return
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.send_message(message("Re: Renewal quote", "Yes, that's all, thanks!", In_Reply_To=question["Message-ID"]))
    check_state = call(port, "conversations.get", {"id": renewal["id"]})[1]["conversation"].get("resolution_check", {})
    check(check_state.get("customer_confirmed") is True and check_state.get("awaiting_confirmation") is False,
          f"a YES by mail confirms the resolution: {check_state}")
    # Carol's address bounces for good (5.1.1): later replies go to Alice only, and the conversation says why.
    report = ("From: MAILER-DAEMON@mx.partner.test\r\nTo: support@acme.test\r\nSubject: Undeliverable\r\n"
              "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
              "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.partner.test\r\n\r\n"
              "Final-Recipient: rfc822; carol@partner.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
              f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {reply['Message-ID']}\r\n--b--\r\n")
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
        smtp.sendmail("", ["support@acme.test"], report.encode())
    already = len(relay.received)
    call(port, "timeline-entries.create", {"object": renewal["id"], "body": "One more thing."}, token=agent_token)
    sent = relay.wait(already + 1)[already:]
    check(len(sent) == 1 and sent[0][1] == ["alice@acme.test"], f"a bounced address is held back: {[s[1] for s in sent]}")
    time.sleep(0.5)
    held = [e for e in events_of(port, renewal["id"], "delivery_failed") if "held back" in json.dumps(e)]
    check(len(held) == 1, f"and the conversation records that it was held back: {held}")


def main():
    port, smtp_port, lmtp_port, relay_port = free_port(), free_port(), free_port(), free_port()
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=relay_port, authenticator=relay.authenticate,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    database = ["--database-url", database_url] if database_url else ["--db", os.path.join(workdir, "parley.sqlite")]
    server = subprocess.Popen([binary, "serve", "--port", str(port), *database,
                               "--smtp-listen", f"127.0.0.1:{smtp_port}", "--lmtp-listen", f"127.0.0.1:{lmtp_port}",
                               "--log-level", "info"],
                              env=dict(os.environ, PARLEY_ADMIN_TOKEN="adm"), stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(workdir, "server.log"), "w"))
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                with socket.create_connection(("127.0.0.1", smtp_port), timeout=1):
                    pass
                break
            except OSError:
                time.sleep(0.05)
        # The team: an agent who owns Acme's account (domain acme.test), a group, the support mailbox.
        agent = call(port, "dev-users.create", {"email": "maya@support.test", "display_name": "Maya"})[1]["dev_user"]["id"]
        call(port, "accounts.create", {"display_name": "Acme", "domains": ["acme.test"], "owned_by": [agent]})
        group = call(port, "groups.create", {"name": "Email"})[1]["group"]["id"]
        status, made = call(port, "mailboxes.create", {"address": "Support@Acme.test", "display_name": "Acme Support", "group": group,
                                                       "smtp_relay": f"smtp://relay-user:s3cret-pass@127.0.0.1:{relay_port}"})
        check(status == 201 and made["mailbox"]["address"] == "support@acme.test", "mailboxes.create")
        listed = json.dumps(call(port, "mailboxes.list", {})[1])
        check("s3cret-pass" not in listed and "relay-user" not in listed and f"smtp://127.0.0.1:{relay_port}" in listed,
              "the relay's user and password are never returned")
        check(call(port, "mailboxes.create", {"address": "not an address"})[0] == 400, "a bad address is refused")
        mailbox_id = made["mailbox"]["id"]
        check(call(port, "mailboxes.update", {"id": mailbox_id, "imap": "imaps://u:p@127.0.0.1:9/INBOX?auth=bogus"})[0] == 400,
              "a bad IMAP URL is refused")
        polled = call(port, "mailboxes.update", {"id": mailbox_id, "imap": "imaps://u:p@127.0.0.1:9/INBOX"})[1]["mailbox"]
        cleared = call(port, "mailboxes.update", {"id": mailbox_id, "imap": None})[1]["mailbox"]
        check(polled["imap"] == "imaps://127.0.0.1:9" and cleared["imap"] is None and cleared["smtp_relay"] is not None,
              "an IMAP URL set, then removed with null (the relay kept)")

        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            first = message("Export fails", "Exports over 10k rows time out.", message_id="<first-1@mail.acme.test>")
            smtp.send_message(first)
            try:
                smtp.send_message(message("Hello", "to nobody", to="nobody@acme.test"))
                check(False, "an unknown address is refused at RCPT")
            except smtplib.SMTPRecipientsRefused as refused:
                check(list(refused.recipients.values())[0][0] == 550, "an unknown address is refused at RCPT (550)")
        opened = [c for c in conversations(port) if c["title"] == "Export fails"]
        check(len(opened) == 1, "a mail opens a conversation")
        conversation = opened[0]
        check(conversation.get("source_channel") == "email", "its channel is email")
        check((conversation.get("group") or {}).get("id") == group, "in the mailbox's group")
        check([o["id"] for o in conversation.get("owned_by", [])] == [agent], "routed to the org's default owner (domain acme.test)")
        customer = conversation["members"][0] if conversation.get("members") else None
        found = call(port, "rev-users.list", {"email": ["alice@acme.test"]})[1].get("rev_users", [])
        check(any(u.get("email") == "alice@acme.test" and u.get("display_name") == "Alice Liddell" for u in found)
              or customer is not None, "the sender became a customer, named from the From header")
        number = conversation["display_id"]

        # The agent answers: the reply goes out by mail through the relay, threaded; a note does not.
        agent_token = call(port, "auth-tokens.create", {"act_as": agent})[1]["access_token"]
        call(port, "timeline-entries.create", {"object": conversation["id"], "body": "Team: check the export job", "visibility": "internal"},
             token=agent_token)
        replied = call(port, "timeline-entries.create", {"object": conversation["id"], "body": "Which browser do you use?"}, token=agent_token)
        check(replied[0] == 201, f"the agent replies: {replied}")
        sent = relay.wait(1)
        check(len(sent) == 1, f"the agent's public reply is sent through the relay, the note is not: {len(sent)} sent")
        if sent:
            mail_from, rcpt_tos, out = sent[0]
            check(relay.logins and relay.logins[0][1] == b"relay-user", "the relay was logged in to (AUTH)")
            check(rcpt_tos == ["alice@acme.test"] and mail_from == "support@acme.test", f"to the customer, from the mailbox: {mail_from} → {rcpt_tos}")
            sender = out["From"].addresses[0]
            check((sender.display_name, sender.addr_spec) == ("Maya via Acme Support", "support@acme.test"), f"From: {out['From']}")
            check(out["Subject"] == f"Re: Export fails [{number}]", f"Subject: {out['Subject']}")
            check(out["In-Reply-To"] == "<first-1@mail.acme.test>" and "first-1@mail.acme.test" in out["References"], "In-Reply-To and References")
            check(out["Message-ID"].startswith(f"<parley.conv-{number.split('-')[1]}.") and out["Message-ID"].endswith("@acme.test>"),
                  f"a Message-ID naming the conversation: {out['Message-ID']}")
            check(out["X-Parley-Loop"] == "acme.test" and out["Date"] is not None, "X-Parley-Loop and Date")
            text = out.get_body(preferencelist=("plain",)).get_content().strip()
            html = out.get_body(preferencelist=("html",)).get_content()
            check(text == "Which browser do you use?" and "Which browser do you use?" in html, "text and HTML parts")
            check("check the export job" not in out.as_string(), "the internal note never leaves")
            # The customer answers the mail as mail clients do (In-Reply-To: Parley's Message-ID, no tag).
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
                smtp.send_message(message("Re: Export fails", "Chromium.", In_Reply_To=out["Message-ID"]))
                # Parley's own mail read back (a mailbox that lists itself): ignored.
                out.replace_header("To", "support@acme.test")
                smtp.send_message(out, from_addr="support@acme.test", to_addrs=["support@acme.test"])
            bodies = [e.get("body") for e in messages(port, conversation["id"])]
            check(bodies[-1] == "Chromium.", f"a reply to Parley's mail threads by its Message-ID: {bodies[-2:]}")
            check(bodies.count("Which browser do you use?") == 1, "Parley's own mail read back is not taken in")
            # A bounce of that reply: recorded on the conversation as a delivery failure, opening nothing.
            report = ("From: MAILER-DAEMON@mx.acme.test\r\nTo: support@acme.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
                      "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n"
                      "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
                      "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.test\r\n\r\n"
                      "Final-Recipient: rfc822; alice@acme.test\r\nAction: failed\r\nStatus: 5.2.2\r\n"
                      "Diagnostic-Code: smtp; 552 5.2.2 mailbox full\r\n"
                      f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {out['Message-ID']}\r\nSubject: x\r\n--b--\r\n")
            titles_before = len(conversations(port))
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
                smtp.sendmail("", ["support@acme.test"], report.encode())
            events = call(port, "timeline-entries.list", {"object": conversation["id"], "collections": ["events"], "limit": 100})[1]
            failures = [e for e in events.get("timeline_entries", []) if "delivery_failed" in json.dumps(e)]
            check(len(failures) == 1 and "mailbox full" in json.dumps(failures[0]) and "alice@acme.test" in json.dumps(failures[0]),
                  f"a bounce is recorded on the conversation as a delivery failure: {failures}")
            check(len(conversations(port)) == titles_before, "and opens nothing")
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
            smtp.send_message(message(f"Re: Export fails [{number}]", "Firefox 128.\n\nOn Tue, Maya wrote:\n> Which browser?\n",
                                      In_Reply_To="<first-1@mail.acme.test>"))
            # No tag: a reply to the message that opened the conversation threads by its Message-ID.
            smtp.send_message(message("Re: Export fails", "Also on Chrome.", In_Reply_To="<first-1@mail.acme.test>",
                                      References="<first-1@mail.acme.test>"))
            # A stranger replying to it does not get into Alice's conversation.
            smtp.send_message(message("Re: Export fails", "Let me in", sender="mallory@evil.test",
                                      In_Reply_To="<first-1@mail.acme.test>"))
            # The same message again (a retry by the sending server): stored once.
            smtp.send_message(first)
            # Machines: an out-of-office reply, list mail, a bounce.
            smtp.send_message(message(f"Out of office [{number}]", "I am away", Auto_Submitted="auto-replied"))
            smtp.send_message(message("Weekly digest", "news", sender="news@lists.example.test", List_Id="<news.example.test>"))
            smtp.send_message(message("Undelivered Mail", "failed", sender="MAILER-DAEMON@mx.example.test"))
        entries = messages(port, conversation["id"])
        bodies = [e.get("body") for e in entries]
        check("Firefox 128." in bodies, f"the tagged reply joins the conversation, its quoted history folded away: {bodies}")
        check(bodies[-1] == "Also on Chrome.", "an untagged reply threads by the Message-ID it answers")
        check("Let me in" not in bodies and any(c["title"] == "Export fails" and c["id"] != conversation["id"] for c in conversations(port)),
              "a stranger's reply to it opens a conversation of its own")
        check(call(port, "conversations.get", {"id": conversation["id"]})[1]["conversation"]["stage"]["name"] == "needs_response",
              "and moves it back to Needs response")
        check(sum(1 for b in bodies if b == "Exports over 10k rows time out.") == 1, "the same Message-ID twice is stored once")
        titles = [c["title"] for c in conversations(port)]
        check("Weekly digest" not in titles and "Undelivered Mail" not in titles and "I am away" not in bodies,
              "an out-of-office reply, list mail and a bounce open nothing and join nothing")

        events = call(port, "timeline-entries.list", {"object": conversation["id"], "collections": ["events"], "limit": 100})[1]
        automatic = [e for e in events.get("timeline_entries", []) if "auto_reply_received" in json.dumps(e)]
        check(len(automatic) == 1 and "I am away" in json.dumps(automatic[0]) or "Out of office" in json.dumps(automatic),
              f"the out-of-office reply is on the conversation's record: {automatic}")
        check(len(relay.received) == 1, f"and nothing was sent back to it ({len(relay.received)} mails sent in all)")
        copies_and_questions(port, smtp_port, relay, agent_token)

        # HTML only, with a file, over LMTP to two recipients (one unknown): answered per recipient.
        html = EmailMessage()
        html["From"] = "Bob <bob@example.test>"
        html["To"] = "support@acme.test"
        html["Subject"] = "=?utf-8?q?Facture_=C3=A9trange?="
        html["Message-ID"] = "<html-1@example.test>"
        html.set_content("<p>Voir la <b>pièce jointe</b>.</p><script>alert(1)</script>", subtype="html")
        html.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="facture-été.pdf")
        with smtplib.LMTP("127.0.0.1", lmtp_port) as lmtp:
            refused = lmtp.sendmail("bob@example.test", ["support@acme.test", "sales@acme.test"], html.as_bytes())
            check(list(refused.keys()) == ["sales@acme.test"], f"LMTP: the known recipient stored, the unknown refused: {refused}")
        bobs = [c for c in conversations(port) if c["title"] == "Facture étrange"]
        check(len(bobs) == 1, "an RFC 2047 subject decoded")
        if bobs:
            entry = messages(port, bobs[0]["id"])[0]
            check(entry.get("body") == "Voir la pièce jointe.", f"HTML read as text, without its script: {entry.get('body')!r}")
            files = entry.get("artifacts", [])
            check(len(files) == 1 and files[0]["file"]["name"] == "facture-été.pdf" and files[0]["file"]["type"] == "application/pdf",
                  f"the attachment kept with its name: {files}")
            if files:
                located = call(port, "artifacts.locate", {"id": files[0]["id"]}, token=agent_token)[1]
                with urllib.request.urlopen(located["url"].replace("localhost", "127.0.0.1"), timeout=30) as download:
                    check(download.read() == b"%PDF-1.4 invoice", "and an agent downloads it byte for byte")
        # The conversation page, as an agent's browser loads it: messages that came by mail say so, and the
        # customer's address is shown.
        browser = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        browser.request("GET", "/inbox/sign-in")
        response = browser.getresponse()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', response.read().decode()).group(1)
        cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
        browser.request("POST", "/inbox/sign-in", body=urllib.parse.urlencode({"_csrf": csrf, "token": "adm"}),
                        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = browser.getresponse()
        response.read()
        cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
        browser.request("GET", f"/inbox/conversations/{number.split('-')[1]}", headers={"Cookie": cookie})
        page = browser.getresponse().read().decode()
        check(page.count(" · by email") >= 3, f"the page marks the messages that came by mail ({page.count(' · by email')})")
        check("mail not delivered" in page, "and the reply whose mail bounced says so")
        originals = re.findall(r'href="/inbox/files/(\d+)"[^>]*>original mail<', page)
        check(len(originals) >= 3, f"each message that came by mail links to the mail as received ({len(originals)})")
        if originals:
            browser.request("GET", f"/inbox/files/{originals[0]}", headers={"Cookie": cookie})
            raw = browser.getresponse().read().decode(errors="replace")
            check("Message-ID: <first-1@mail.acme.test>" in raw and "Exports over 10k rows time out." in raw,
                  "an agent opens the original mail, headers and all")
            customer_id = call(port, "rev-users.list", {"email": ["alice@acme.test"]})[1]["rev_users"][0]["id"]
            customer_token = call(port, "auth-tokens.create", {"requested_token_type": "urn:devrev:params:oauth:token-type:session",
                                                               "rev_info": {"user_id": customer_id}})[1].get("access_token")
            artifact_id = re.sub(r"\d+$", originals[0], files[0]["id"]) if bobs and files else None
            check(bool(customer_token and artifact_id), "a customer token and the original's id")
            if customer_token and artifact_id:
                check(call(port, "artifacts.get", {"id": artifact_id}, token=customer_token)[0] == 404
                      and call(port, "artifacts.get", {"id": artifact_id})[0] == 200,
                      "the customer cannot reach it; an agent can")
                # The widget, as the customer's browser opens it: messages by mail say so, and no original is offered.
                widget = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                widget.request("GET", f"/widget?token={customer_token}")
                response = widget.getresponse()
                response.read()
                widget_cookie = "; ".join(c.split(";")[0] for c in response.headers.get_all("Set-Cookie") or [])
                widget.request("GET", f"/widget/conversations/{number.split('-')[1]}", headers={"Cookie": widget_cookie})
                widget_page = widget.getresponse().read().decode()
                check(widget_page.count(" · by email") >= 3 and "original mail" not in widget_page and "Which browser do you use?" in widget_page,
                      f"the widget shows the channel per message ({widget_page.count(' · by email')}), no original mail")
        check("Alice Liddell &lt;alice@acme.test&gt;" in page, "and shows the customer's address")
        log = open(os.path.join(workdir, "server.log")).read()
        check("s3cret-pass" not in log, "the relay's password is not in the log")
    finally:
        server.terminate()
        server.wait(10)
        controller.stop()
    status = check.summary("mail-test")
    sys.exit(status)


main()
