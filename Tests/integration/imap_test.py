#!/usr/bin/env python3
"""Email in over IMAP, against the real binary and a real IMAP server: Debian's Dovecot, run here as a
foreground process of its own (its configuration, passwd-file users, Maildirs and a self-signed certificate
made with openssl, all in a temporary folder), listening on 127.0.0.1 only (IMAP with STARTTLS, and IMAPS). Messages are put in with
Python's imaplib (APPEND), as a mail server would deliver them.

Without --database-url (SQLite, one server): a mail appended becomes a conversation, over STARTTLS (the
certificate trusted through --imap-ca-file), and is flagged \\Seen; with ?processed=FOLDER (over imaps://)
it is moved there; a message over the size limit is left unread and logged; a mail appended while Parley IDLEs shows up within 2 s (the poll interval is 60 s, so only IDLE can
explain it); a restart takes nothing again (the checkpoint: no mail received in the new server's log); a
folder deleted and made again (a new UIDVALIDITY) with the same mail in it stores nothing twice; an
out-of-office reply opens nothing; a wrong password is logged without the password while the server keeps
serving, and no log line carries any password.

With --database-url URL (an empty PostgreSQL database): two `parley serve` nodes on it; every mail is stored
exactly once, and after SIGKILL of the node polling the mailbox the other takes over within 15 s.

Usage: imap_test.py PATH_TO_PARLEY [--database-url URL]. Prints 'imap-test: N passed, M failed' last.
"""
import imaplib, json, os, pwd, re, shutil, signal, socket, ssl, subprocess, sys, tempfile, time, urllib.error, urllib.request
from email.message import EmailMessage

from harness import Checks, call, free_port, wait_for

binary = os.path.abspath(sys.argv[1])
database_url = sys.argv[sys.argv.index("--database-url") + 1] if "--database-url" in sys.argv else None
workdir = tempfile.mkdtemp(prefix="parley-imap-")
os.chmod(workdir, 0o755)
check = Checks()
PASSWORDS = {"support": "Imap-S3cret-one", "helpdesk": "Imap-S3cret-two"}
WRONG = "Wr0ng-Imap-Pass"





class Dovecot:
    """Dovecot on 127.0.0.1, plain IMAP with STARTTLS (a self-signed certificate for IP 127.0.0.1)."""

    def __init__(self):
        self.dir = os.path.join(workdir, "dovecot")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port, self.tls_port = free_port(), free_port()
        self.cert, key = os.path.join(self.dir, "cert.pem"), os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", self.cert, "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        os.chmod(key, 0o644)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for user, password in PASSWORDS.items():
                f.write(f"{user}:{{PLAIN}}{password}::::::\n")
        home = os.path.join(self.dir, "home")
        os.makedirs(home)
        if os.getuid() == 0:
            # As root, Dovecot's processes run as its own users and mail is kept as nobody's.
            mail_user, login_user, internal_user = "nobody", "dovenull", "dovecot"
            os.chown(home, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
        else:
            mail_user = login_user = internal_user = pwd.getpwuid(os.getuid()).pw_name
        entry = pwd.getpwnam(mail_user)
        dh = "ssl_dh = </usr/share/dovecot/dh.pem" if os.path.exists("/usr/share/dovecot/dh.pem") else ""
        self.log = os.path.join(self.dir, "dovecot.log")
        self.config = os.path.join(self.dir, "dovecot.conf")
        with open(self.config, "w") as f:
            f.write(f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
instance_name = parley-imap-test-{self.port}
protocols = imap
listen = 127.0.0.1
log_path = {self.log}
ssl = yes
ssl_cert = <{self.cert}
ssl_key = <{key}
{dh}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.dir}/passwd
}}
userdb {{
  driver = static
  args = uid={entry.pw_uid} gid={entry.pw_gid} home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""")
        self.process = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", self.config], stdout=subprocess.DEVNULL,
                                        stderr=open(os.path.join(self.dir, "stderr.log"), "w"))
        if not wait_for(self.answers, 20):
            raise SystemExit("dovecot did not start: " + open(os.path.join(self.dir, "stderr.log")).read() +
                             (open(self.log).read() if os.path.exists(self.log) else ""))

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                return s.recv(100).startswith(b"* OK")
        except OSError:
            return False

    def client(self, user):
        imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        imap.starttls(ssl.create_default_context(cafile=self.cert))
        imap.login(user, PASSWORDS[user])
        return imap

    def append(self, user, folder, message, flags=""):
        with self.client(user) as imap:
            status, _ = imap.append(folder, flags, None, message.as_bytes())
            assert status == "OK", status

    def flags(self, user, folder):
        """{Message-ID: flags} of the folder's messages."""
        found = {}
        with self.client(user) as imap:
            status, count = imap.select(folder)
            if status != "OK":
                return None
            if int(count[0]) == 0:
                return found
            status, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for item in data or []:
                if isinstance(item, tuple):
                    header = item[1].decode(errors="replace").strip()
                    found[header.split(":", 1)[-1].strip()] = item[0].decode()
        return found

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Parley:
    def __init__(self, name, database, poll=60, ca=None, extra=()):
        self.port = free_port()
        self.log = os.path.join(workdir, f"{name}.log")
        arguments = [binary, "serve", "--port", str(self.port), *database, "--imap-poll-seconds", str(poll), "--log-level", "info", *extra]
        if ca:
            arguments += ["--imap-ca-file", ca]
        self.process = subprocess.Popen(arguments, env=dict(os.environ, PARLEY_ADMIN_TOKEN="adm"), stdout=subprocess.DEVNULL,
                                        stderr=open(self.log, "a"))
        if not wait_for(self.healthy, 60):
            raise SystemExit(f"{name} did not start: " + open(self.log).read())

    def healthy(self):
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2).status == 200
        except OSError:
            return False

    def call(self, path, body):
        return call(self.port, path, body)

    def titles(self):
        status, body = self.call("conversations.list", {"limit": 100})
        return [c["title"] for c in body.get("conversations", [])] if status == 200 else None

    def text(self):
        return open(self.log, errors="replace").read()

    def stop(self, kill=False):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def message(subject, message_id, body="Hello from IMAP.", sender="Alice Liddell <alice@acme.test>", **headers):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "support@acme.test"
    m["Subject"] = subject
    m["Message-ID"] = message_id
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    return m


def unread(flags, message_id):
    """Whether the folder holds the message, not flagged \\Seen."""
    return bool(flags) and message_id in flags and "\\Seen" not in flags[message_id]


def imap_url(user, password, dovecot, path):
    return f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/{path}"


def single_node(dovecot):
    database = ["--db", os.path.join(workdir, "parley.sqlite")]
    with dovecot.client("support") as imap:
        imap.create("Support")
    # Messages over 1000 * 1 * 4/3 bytes + 1 MiB (the SMTP listener's limit, from the attachment limits) are passed over.
    limits = ["--attachment-max-bytes", "1000", "--attachments-per-message", "1"]
    server = Parley("parley", database, poll=60, ca=dovecot.cert, extra=limits)
    try:
        status, made = server.call("mailboxes.create", {"address": "support@acme.test", "display_name": "Acme Support",
                                                        "imap": imap_url("support", PASSWORDS["support"], dovecot, "Support")})
        check(status == 201, "a mailbox with an imap URL")
        listed = json.dumps(server.call("mailboxes.list", {})[1])
        check(PASSWORDS["support"] not in listed, "the imap password is never returned")
        server.call("mailboxes.create", {"address": "help@acme.test", "imap": f"imaps://helpdesk:{PASSWORDS['helpdesk']}@127.0.0.1:"
                                                                          f"{dovecot.tls_port}/INBOX?processed=Parley"})

        dovecot.append("support", "Support", message("Printer on fire", "<fire-1@mail.acme.test>"))
        check(wait_for(lambda: "Printer on fire" in (server.titles() or []), 20), "a mail appended becomes a conversation")
        flags = wait_for(lambda: (lambda f: f if f and "\\Seen" in f.get("<fire-1@mail.acme.test>", "") else None)(dovecot.flags("support", "Support")), 10)
        check(bool(flags), "and is flagged \\Seen in the folder afterwards")
        check(re.search(r"Login: user=<support>.*TLS", open(dovecot.log).read()) is not None, "Parley signed in over STARTTLS")

        dovecot.append("helpdesk", "INBOX", message("Moved along", "<moved-1@mail.acme.test>"))
        check(wait_for(lambda: "Moved along" in (server.titles() or []), 20), "a mail to the second mailbox becomes a conversation")
        moved = wait_for(lambda: (lambda f: f if f and "<moved-1@mail.acme.test>" in f else None)(dovecot.flags("helpdesk", "Parley")), 10)
        check(re.search(r"Login: user=<helpdesk>.*TLS", open(dovecot.log).read()) is not None, "and over imaps:// (TLS from the start)")
        check(bool(moved) and "\\Seen" in moved["<moved-1@mail.acme.test>"] and dovecot.flags("helpdesk", "INBOX") == {},
              "?processed=Parley: moved to that folder, flagged \\Seen, gone from INBOX")

        # Too large: left unread in the folder, logged, and the mail after it is taken.
        dovecot.append("support", "Support", message("Huge scan", "<huge-1@mail.acme.test>", body="x" * 1_200_000))
        dovecot.append("support", "Support", message("After the huge one", "<after-huge-1@mail.acme.test>"))
        check(wait_for(lambda: "After the huge one" in (server.titles() or []), 20) and "Huge scan" not in server.titles()
              and unread(dovecot.flags("support", "Support"), "<huge-1@mail.acme.test>")
              and re.search(r"IMAP: support@acme\.test at 127\.0\.0\.1:\d+: message UID \d+ not taken in: \d+ bytes, over the limit", server.text()),
              "a message over the size limit is left unread and logged; the next one is taken")

        # IDLE: the poll interval is 60 s; a mail appended now is seen within 2 s only if Parley idles.
        time.sleep(1.5)
        appended = time.time()
        dovecot.append("support", "Support", message("Seen while idle", "<idle-1@mail.acme.test>"))
        shown = wait_for(lambda: "Seen while idle" in (server.titles() or []), 10, step=0.05)
        took = time.time() - appended
        check(shown and took <= 2.0, f"IDLE: a mail appended while idle shows up within 2 s ({took:.2f} s)")

        dovecot.append("support", "Support", message("Automatic reply: Printer on fire", "<ooo-1@mail.acme.test>",
                                                      Auto_Submitted="auto-replied"))
        taken = wait_for(lambda: "\\Seen" in ((dovecot.flags("support", "Support") or {}).get("<ooo-1@mail.acme.test>", "")), 10)
        check(taken and not any("Automatic reply" in t for t in server.titles()), "an out-of-office reply is taken in and opens nothing")
        count = len(server.titles())

        # A restart: the checkpoint says where it got to, even with the messages marked unread again.
        with dovecot.client("support") as imap:
            imap.select("Support")
            imap.store("1:*", "-FLAGS", "\\Seen")
        server.stop()
        before = len(open(server.log).read())
        server = Parley("parley", database, poll=60, ca=dovecot.cert, extra=limits)
        time.sleep(4)
        after = server.text()[before:]
        check(len(server.titles()) == count and "mail received" not in after and "polling support@acme.test" in after,
              "a restart takes nothing again (checkpoint)")

        # A new UIDVALIDITY: the folder deleted and made again, the same mail in it: stored once.
        with dovecot.client("support") as imap:
            imap.delete("Support")
        time.sleep(1.1)
        with dovecot.client("support") as imap:
            imap.create("Support")
        for subject, message_id in [("Printer on fire", "<fire-1@mail.acme.test>"), ("Seen while idle", "<idle-1@mail.acme.test>")]:
            dovecot.append("support", "Support", message(subject, message_id))
        refetched = wait_for(lambda: server.text()[before:].count("outcome=duplicate") >= 2, 30)
        check(refetched and len(server.titles()) == count, "a changed UIDVALIDITY takes the mail again and stores nothing twice")

        # A wrong password: logged without it, the server keeps serving, the other mailboxes keep working.
        server.call("mailboxes.create", {"address": "wrong@acme.test", "imap": imap_url("support", WRONG, dovecot, "INBOX")})
        logged = wait_for(lambda: re.search(r"IMAP: wrong@acme\.test at 127\.0\.0\.1:\d+: sign-in refused", server.text()), 20)
        check(bool(logged), "a wrong password is logged, naming the mailbox and host")
        dovecot.append("support", "Support", message("Still working", "<still-1@mail.acme.test>"))
        check(server.healthy() and wait_for(lambda: "Still working" in (server.titles() or []), 10),
              "the server keeps serving and polling the other mailboxes")
        every_log = server.text()
        check(all(secret not in every_log for secret in [WRONG, *PASSWORDS.values()]), "no log line carries a password")
        titles = server.titles()
        check(len(titles) == len(set(titles)), "no conversation twice")
    finally:
        server.stop()


def two_nodes(dovecot):
    database = ["--database-url", database_url]
    first = Parley("node-1", database, poll=60, ca=dovecot.cert)
    second = Parley("node-2", database, poll=60, ca=dovecot.cert)
    nodes = [first, second]
    try:
        status, _ = first.call("mailboxes.create", {"address": "support@acme.test",
                                                    "imap": imap_url("support", PASSWORDS["support"], dovecot, "INBOX")})
        check(status == 201, "a mailbox with an imap URL (PostgreSQL)")
        for n in range(5):
            dovecot.append("support", "INBOX", message(f"Two nodes {n}", f"<two-{n}@mail.acme.test>"))
        check(wait_for(lambda: len(second.titles() or []) == 5, 30), "two nodes: five mails, five conversations")
        polling = wait_for(lambda: [node for node in nodes if "polling support@acme.test" in node.text()], 10)
        check(len(polling) == 1, "exactly one node polls the mailbox")
        if len(polling) != 1:
            return
        holder = polling[0]
        other = second if holder is first else first
        holder.stop(kill=True)
        killed = time.time()
        for n in range(5, 8):
            dovecot.append("support", "INBOX", message(f"Two nodes {n}", f"<two-{n}@mail.acme.test>"))
        done = wait_for(lambda: len(other.titles() or []) == 8, 30, step=0.2)
        took = time.time() - killed
        check(done and took <= 15, f"after SIGKILL of the polling node, the other takes over ({took:.1f} s)")
        titles = other.titles()
        check(sorted(titles) == sorted(f"Two nodes {n}" for n in range(8)), "every mail stored exactly once")
        check(all(secret not in node.text() for node in nodes for secret in PASSWORDS.values()), "no log line carries a password")
    finally:
        for node in nodes:
            node.stop()


def main():
    if not os.path.exists("/usr/sbin/dovecot"):
        print("imap test needs Debian's dovecot-imapd (apt-get install dovecot-imapd; .ci/run installs it)", file=sys.stderr)
        print("imap-test: 0 passed, 1 failed")
        sys.exit(1)
    dovecot = Dovecot()
    try:
        if database_url:
            two_nodes(dovecot)
        else:
            single_node(dovecot)
    except Exception as error:  # a crash is a failure, reported with the rest
        check(False, f"the test ran to its end ({type(error).__name__}: {error})")
    finally:
        dovecot.stop()
    status = check.summary("imap-test")
    if check.failed:
        print(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
