#!/usr/bin/env python3
"""SDK compatibility: drive a real `parley serve` over HTTPS with the published DevRev Python SDK
(`pip install devrev-python-sdk==3.2.0`, imported as `devrev`).

Usage: sdk_test.py PATH_TO_PARLEY
Needs the `openssl` CLI (for a throwaway self-signed certificate) and the SDK in this python3.
Every call below goes through the SDK as a user of it would write it; where the SDK trips on
Parley's answer (a pydantic parse error, a 404 for an endpoint it calls, a wrong shape) the check
fails and prints the request path, status and body Parley answered with.
Prints 'sdk-test: N passed, M failed' last and exits 1 if anything failed.
"""
import datetime
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import uuid

TOKEN = "sdk-test-admin-" + uuid.uuid4().hex
RUN = uuid.uuid4().hex[:8]  # makes every name unique to this run
PAGINATION_COUNT = 120

passed = 0
failed = 0
failures = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def start(binary, port, directory, cert, key):
    env = dict(os.environ, PARLEY_ADMIN_TOKEN=TOKEN)
    log = open(os.path.join(directory, "server.log"), "wb")
    process = subprocess.Popen([binary, "serve", "--port", str(port), "--db", os.path.join(directory, "parley.sqlite"),
                                "--tls-cert", cert, "--tls-key", key, "--log-level", "error"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    context = ssl.create_default_context(cafile=cert)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", timeout=1, context=context) as r:
                if r.status == 200 and json.loads(r.read()).get("status") == "ok":
                    return process
        except (OSError, ValueError):
            time.sleep(0.1)
    process.kill()
    process.wait()
    with open(os.path.join(directory, "server.log"), "rb") as f:
        sys.stderr.write(f.read()[-2000:].decode(errors="replace"))
    raise RuntimeError("server did not become ready on https://127.0.0.1:%d/health" % port)


class Wire:
    """Remembers the last few exchanges the SDK's httpx client made, to explain a failure."""

    def __init__(self):
        self.log = []
        self.count = {}

    def hook(self, response):
        response.read()
        path = response.request.url.path
        self.count[path] = self.count.get(path, 0) + 1
        self.log.append((response.request.method, response.request.url.path, response.status_code,
                         response.text))
        del self.log[:-3]

    def last(self):
        if not self.log:
            return "(no response recorded)"
        method, path, status, body = self.log[-1]
        if len(body) > 400:
            body = body[:400] + "…"
        return f"{method} {path} → {status} {body}"


def describe(exc):
    from devrev.exceptions import DevRevError
    name = type(exc).__name__
    if isinstance(exc, DevRevError):
        return f"{name}: {exc.message} (status {exc.status_code}) body={exc.response_body}"
    text = str(exc).strip().replace("\n", " | ")
    if len(text) > 500:
        text = text[:500] + "…"
    return f"{name}: {text}"


def check(name, fn, client=None, wire=None):
    """Run one check. fn raises (AssertionError or an SDK error) to fail; returns a value to pass on."""
    global passed, failed
    if wire is not None:
        wire.log.clear()
    try:
        value = fn()
    except Exception as exc:  # noqa: BLE001 — every failure is a finding
        failed += 1
        detail = describe(exc)
        if isinstance(exc, AssertionError) and not str(exc):
            detail = "assertion failed: " + traceback.format_exc().strip().splitlines()[-2].strip()
        wire_text = wire.last() if wire is not None else ""
        failures.append(name)
        print(f"FAIL {name}\n     {detail}" + (f"\n     wire: {wire_text}" if wire_text else ""), flush=True)
        if client is not None:
            # A failed check must not cascade: the SDK opens its circuit after 5 consecutive non-2xx.
            client._http.reset_circuit_breaker()
        return None
    passed += 1
    print(f"ok   {name}", flush=True)
    return value if value is not None else True


def skip_because(name, reason):
    global failed
    failed += 1
    failures.append(name)
    print(f"FAIL {name}\n     not run: {reason}", flush=True)


def eq(actual, expected, what):
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def bulk_create_conversations(port, cert, count):
    """Create conversations quickly, straight over one kept-alive HTTPS connection (not the SDK)."""
    context = ssl.create_default_context(cafile=cert)
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    ids = []
    try:
        for i in range(count):
            body = json.dumps({"type": "support", "title": f"page-{RUN}-{i:03d}", "description": "pagination"})
            connection.request("POST", "/conversations.create", body=body,
                               headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            assert response.status == 201, f"conversations.create #{i}: {response.status} {data[:300]!r}"
            ids.append(json.loads(data)["conversation"]["id"])
    finally:
        connection.close()
    return ids


def raw_post(port, cert, path, body):
    context = ssl.create_default_context(cafile=cert)
    request = urllib.request.Request(f"https://127.0.0.1:{port}/{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {TOKEN}",
                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
        return response.status, json.loads(response.read() or b"{}")


def run(port, cert):
    # SSL_CERT_FILE must be set before the SDK builds its httpx client (httpx reads it when trust_env).
    os.environ["SSL_CERT_FILE"] = cert
    from devrev import DevRevClient
    from devrev.config import DevRevConfig
    from devrev.exceptions import ConflictError, NotFoundError
    from devrev.models.conversations import (ConversationsCreateRequest, ConversationsDeleteRequest,
                                             ConversationsGetRequest, ConversationsListRequest,
                                             ConversationsUpdateRequest)
    from devrev.models.groups import GroupsCreateRequest, GroupsGetRequest, GroupsListRequest, GroupType
    from devrev.models.tags import (TagsCreateRequest, TagsDeleteRequest, TagsGetRequest, TagsListRequest,
                                    TagsUpdateRequest)
    from devrev.models.timeline_entries import (TimelineEntriesCreateRequest, TimelineEntriesDeleteRequest,
                                                TimelineEntriesGetRequest, TimelineEntriesListRequest,
                                                TimelineEntriesUpdateRequest, TimelineEntryType)

    # Default circuit breaker (5 failures / 30 s) kept on; check() resets it after a failed check.
    # No retries: a 5xx is a finding to report at once, not something to wait out with backoff.
    config = DevRevConfig(api_token=TOKEN, base_url=f"https://localhost:{port}", timeout=15, max_retries=0)
    client = DevRevClient(config=config)
    wire = Wire()
    client._http._client.event_hooks["response"].append(wire.hook)

    def c(name, fn):
        return check(name, fn, client, wire)

    c("sdk health_check over https (SSL_CERT_FILE honoured)", lambda: eq(client._http.health_check(), True, "healthy"))

    def strict_transport_security():
        context = ssl.create_default_context(cafile=cert)
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", timeout=10, context=context) as response:
            eq(response.headers.get("Strict-Transport-Security"), "max-age=31536000", "HSTS header over TLS")
    check("every response over TLS carries Strict-Transport-Security (issue 15, item 13)", strict_transport_security)

    # ---- dev users ------------------------------------------------------------------------------------
    def dev_self():
        me = client.dev_users.self()
        assert me.id.startswith("don:identity:"), me.id
        assert ":devu/" in me.id, me.id
        assert me.email, "self has no email"
        return me
    me = c("dev-users.self", dev_self)

    def dev_list():
        ids, cursor, pages = [], None, 0
        while True:
            page = client.dev_users.list(cursor=cursor, limit=50)
            pages += 1
            ids += [u.id for u in page.dev_users]
            cursor = page.next_cursor
            if not cursor or pages > 20:
                break
        assert me and me.id in ids, f"self {me and me.id} not in dev-users.list {ids}"
        eq(len(ids), len(set(ids)), "dev-users.list: distinct ids")
    c("dev-users.list (contains self)", dev_list)

    def dev_get():
        got = client.dev_users.get(me.id)
        eq(got.id, me.id, "id")
        eq(got.email, me.email, "email")
        eq(got.display_name, me.display_name, "display_name")
    if me:
        c("dev-users.get", dev_get)
    else:
        skip_because("dev-users.get", "dev-users.self failed")

    # ---- taking an agent's access away (issue 15, item 6) ------------------------------------------------
    from devrev.exceptions import AuthenticationError

    def dev_deactivate_and_activate():
        status, body = raw_post(port, cert, "dev-users.create", {"email": f"leaver-{RUN}@support.test"})
        eq(status, 201, "dev-users.create")
        agent = body["dev_user"]["id"]
        status, body = raw_post(port, cert, "auth-tokens.create", {"act_as": agent})
        eq(status, 201, "auth-tokens.create")
        theirs = DevRevClient(config=DevRevConfig(api_token=body["access_token"], base_url=f"https://localhost:{port}",
                                                  timeout=15, max_retries=0))
        eq(theirs.dev_users.self().id, agent, "their token works")
        renamed = client.dev_users.update(agent, display_name=f"Leaver {RUN}", full_name="Lee Vers")
        eq((renamed.display_name, renamed.full_name), (f"Leaver {RUN}", "Lee Vers"), "dev-users.update")
        eq(client.dev_users.deactivate(agent), None, "dev-users.deactivate")
        eq(str(client.dev_users.get(agent).state.value), "deactivated", "state")
        try:
            theirs.dev_users.self()
            raise AssertionError("a deactivated agent's token still works")
        except AuthenticationError:
            pass
        back = client.dev_users.activate(agent)
        eq((back.id, str(back.state.value)), (agent, "active"), "dev-users.activate")
    c("dev-users.update, .deactivate (their token stops), .activate", dev_deactivate_and_activate)

    # ---- tags -----------------------------------------------------------------------------------------
    tag_name = f"sdk-tag-{RUN}"

    def tag_create():
        tag = client.tags.create(TagsCreateRequest(name=tag_name, description="made by the SDK"))
        assert tag.id.startswith("don:core:") and ":tag/" in tag.id, tag.id
        eq(tag.name, tag_name, "name")
        eq(tag.description, "made by the SDK", "description")
        return tag
    tag = c("tags.create", tag_create)

    def tag_get():
        got = client.tags.get(TagsGetRequest(id=tag.id))
        eq(got.id, tag.id, "id")
        eq(got.name, tag_name, "name")
    def tag_list():
        tags = client.tags.list(TagsListRequest(limit=100))
        names = {t.name for t in tags}
        assert tag_name in names, f"{tag_name} not in tags.list"
        assert "Stalled" in names, "seed tag Stalled not in tags.list"
        eq(len({t.id for t in tags}), len(tags), "tags.list: distinct ids")
    def tag_update():
        updated = client.tags.update(TagsUpdateRequest(id=tag.id, name=tag_name + "-renamed", description="renamed"))
        eq(updated.id, tag.id, "id")
        eq(updated.name, tag_name + "-renamed", "name")
        eq(updated.description, "renamed", "description")
        got = client.tags.get(TagsGetRequest(id=tag.id))
        eq(got.name, tag_name + "-renamed", "name read back")
    def tag_delete():
        client.tags.delete(TagsDeleteRequest(id=tag.id))
        try:
            client.tags.get(TagsGetRequest(id=tag.id))
        except NotFoundError:
            return
        raise AssertionError("tags.get still finds the deleted tag")
    if tag:
        c("tags.get", tag_get)
        c("tags.list (new tag and seed tags)", tag_list)
        c("tags.update (SDK calls /tags.update)", tag_update)
        c("tags.delete (SDK calls /tags.delete) then get → NotFoundError", tag_delete)
    else:
        for n in ("tags.get", "tags.list", "tags.update", "tags.delete"):
            skip_because(n, "tags.create failed")

    # ---- groups ---------------------------------------------------------------------------------------
    group_name = f"sdk-group-{RUN}"

    def group_create():
        group = client.groups.create(GroupsCreateRequest(name=group_name, description="SDK group",
                                                         type=GroupType.STATIC))
        assert ":group/" in group.id, group.id
        eq(group.name, group_name, "name")
        eq(group.description, "SDK group", "description")
        return group
    group = c("groups.create", group_create)

    def group_create_bare():
        g = client.groups.create(GroupsCreateRequest(name=group_name + "-bare"))
        eq(g.name, group_name + "-bare", "name")
        return g
    bare = c("groups.create without description/type", group_create_bare)

    def group_get():
        got = client.groups.get(GroupsGetRequest(id=group.id))
        eq(got.id, group.id, "id")
        eq(got.name, group_name, "name")
    def group_list():
        groups = client.groups.list(GroupsListRequest(limit=100))
        ids = [g.id for g in groups]
        assert group.id in ids, f"{group.id} not in groups.list"
        if bare:
            assert bare.id in ids, f"{bare.id} not in groups.list"
    def group_conflict():
        try:
            client.groups.create(GroupsCreateRequest(name=group_name, description="again"))
        except ConflictError:
            return
        raise AssertionError("a second group with the same name did not raise ConflictError")
    if group:
        c("groups.get", group_get)
        c("groups.list", group_list)
        c("groups.create duplicate name → ConflictError", group_conflict)
    else:
        for n in ("groups.get", "groups.list", "groups.create duplicate"):
            skip_because(n, "groups.create failed")

    # ---- accounts, rev orgs, rev users ----------------------------------------------------------------
    def account_create():
        account = client.accounts.create(f"SDK Account {RUN}", description="acct", domains=[f"{RUN}.example.com"])
        assert ":account/" in account.id, account.id
        eq(account.display_name, f"SDK Account {RUN}", "display_name")
        got = client.accounts.get(account.id)
        eq(got.id, account.id, "accounts.get id")
        return account
    account = c("accounts.create + accounts.get", account_create)
    if not account:
        # Still give rev-orgs an account to hang on: create one the plain way.
        def account_raw():
            status, body = raw_post(port, cert, "accounts.create", {"display_name": f"SDK Account raw {RUN}"})
            eq(status, 201, "status")
            return type("A", (), {"id": body["account"]["id"]})
        account = check("accounts.create (raw POST fallback)", account_raw)

    org_name = f"SDK Org {RUN}"

    def org_create():
        org = client.rev_orgs.create(org_name, account.id, description="org by SDK", external_ref=f"ext-org-{RUN}")
        assert ":revo/" in org.id, org.id
        eq(org.display_name, org_name, "display_name")
        eq(org.description, "org by SDK", "description")
        eq(org.external_ref, f"ext-org-{RUN}", "external_ref")
        assert org.account is not None, "rev_org.account missing"
        eq(org.account.id, account.id, "account.id")
        return org
    org = c("rev-orgs.create (with account)", org_create) if account else None

    def org_get():
        got = client.rev_orgs.get(org.id)
        eq(got.id, org.id, "id")
        eq(got.display_name, org_name, "display_name")
    def org_list():
        page = client.rev_orgs.list(account=[account.id], limit=100)
        ids = [o.id for o in page.rev_orgs]
        assert org.id in ids, f"{org.id} not in rev-orgs.list(account=[…]) {ids}"
        everything, cursor, pages = [], None, 0
        while True:
            page = client.rev_orgs.list(cursor=cursor, limit=2)
            pages += 1
            everything += [o.id for o in page.rev_orgs]
            assert len(page.rev_orgs) <= 2, f"limit=2 returned {len(page.rev_orgs)}"
            cursor = page.next_cursor
            if not cursor or pages > 200:
                break
        assert org.id in everything, "paging rev-orgs.list to the end did not reach the new org"
        eq(len(everything), len(set(everything)), "rev-orgs.list pages: distinct ids")
    if org:
        c("rev-orgs.get", org_get)
        c("rev-orgs.list (account filter; paged with limit=2 to the end)", org_list)
    else:
        for n in ("rev-orgs.get", "rev-orgs.list"):
            skip_because(n, "rev-orgs.create failed")

    def user_create():
        user = client.rev_users.create(org.id, display_name="Sam SDK", email=f"sam-{RUN}@example.com",
                                       external_ref=f"ext-user-{RUN}")
        assert ":revu/" in user.id, user.id
        eq(user.display_name, "Sam SDK", "display_name")
        eq(user.email, f"sam-{RUN}@example.com", "email")
        eq(user.external_ref, f"ext-user-{RUN}", "external_ref")
        assert user.rev_org is not None, "rev_user.rev_org missing"
        eq(user.rev_org.id, org.id, "rev_org.id")
        return user
    user = c("rev-users.create", user_create) if org else None

    def user_get():
        got = client.rev_users.get(user.id)
        eq(got.id, user.id, "id")
        eq(got.email, f"sam-{RUN}@example.com", "email")
    def user_list():
        more = [client.rev_users.create(org.id, display_name=f"User {i}", email=f"u{i}-{RUN}@example.com").id
                for i in range(4)]
        page = client.rev_users.list(rev_org=[org.id], limit=100)
        ids = [u.id for u in page.rev_users]
        eq(set(ids), {user.id, *more}, "rev-users.list(rev_org=[…])")
        seen, cursor, pages = [], None, 0
        while True:
            page = client.rev_users.list(rev_org=[org.id], cursor=cursor, limit=2)
            pages += 1
            seen += [u.id for u in page.rev_users]
            cursor = page.next_cursor
            if not cursor or pages > 10:
                break
        eq(sorted(seen), sorted({user.id, *more}), "rev-users.list paged with limit=2")
        by_email = client.rev_users.list(email=[f"sam-{RUN}@example.com"])
        eq([u.id for u in by_email.rev_users], [user.id], "rev-users.list(email=[…])")
    if user:
        c("rev-users.get", user_get)
        c("rev-users.list (rev_org filter, paged, email filter)", user_list)
    else:
        for n in ("rev-users.get", "rev-users.list"):
            skip_because(n, "rev-users.create failed")

    # ---- conversations --------------------------------------------------------------------------------
    title = f"SDK conversation {RUN}"

    def conv_create():
        conv = client.conversations.create(ConversationsCreateRequest(title=title, description="first words"))
        assert conv.id.startswith("don:core:") and ":conversation/" in conv.id, conv.id
        eq(conv.title, title, "title")
        eq(conv.description, "first words", "description")
        assert conv.stage is not None, "stage missing"
        assert conv.created_date is not None, "created_date missing"
        return conv
    conv = c("conversations.create", conv_create)

    def conv_get():
        got = client.conversations.get(ConversationsGetRequest(id=conv.id))
        eq(got.id, conv.id, "id")
        eq(got.title, title, "title")
        eq(got.description, "first words", "description")
    def conv_update():
        updated = client.conversations.update(ConversationsUpdateRequest(id=conv.id, title=title + " (edited)",
                                                                         description="edited"))
        eq(updated.id, conv.id, "id")
        eq(updated.title, title + " (edited)", "title")
        eq(updated.description, "edited", "description")
        got = client.conversations.get(ConversationsGetRequest(id=conv.id))
        eq(got.title, title + " (edited)", "title read back")
    def conv_list():
        conversations = client.conversations.list(ConversationsListRequest(limit=100, sort_by=["-created_date"]))
        assert conversations, "conversations.list is empty"
        assert conv.id in [x.id for x in conversations], f"{conv.id} not in conversations.list"
    if conv:
        c("conversations.get", conv_get)
        c("conversations.update (title, description)", conv_update)
        c("conversations.list (sort_by -created_date → created_date:desc)", conv_list)
    else:
        for n in ("conversations.get", "conversations.update", "conversations.list"):
            skip_because(n, "conversations.create failed")

    # ---- timeline entries on the conversation ---------------------------------------------------------
    entry = None
    if conv:
        def entry_create():
            e = client.timeline_entries.create(TimelineEntriesCreateRequest(
                object=conv.id, type=TimelineEntryType.COMMENT, body=f"hello from the SDK {RUN}"))
            assert ":comment/" in e.id or "timeline" in e.id or e.id.startswith("don:"), e.id
            eq(e.body, f"hello from the SDK {RUN}", "body")
            eq(e.type, "timeline_comment", "type")
            eq(e.object, conv.id, "object")
            return e
        entry = c("timeline-entries.create", entry_create)
    else:
        skip_because("timeline-entries.create", "conversations.create failed")

    def entry_get():
        got = client.timeline_entries.get(TimelineEntriesGetRequest(id=entry.id))
        eq(got.id, entry.id, "id")
        eq(got.body, f"hello from the SDK {RUN}", "body")
    def entry_list():
        second = client.timeline_entries.create(TimelineEntriesCreateRequest(
            object=conv.id, type=TimelineEntryType.COMMENT, body="second"))
        entries = client.timeline_entries.list(TimelineEntriesListRequest(object=conv.id, limit=100))
        ids = [e.id for e in entries]
        assert entry.id in ids and second.id in ids, f"{entry.id}, {second.id} not both in {ids}"
        bodies = {e.id: e.body for e in entries}
        eq(bodies[entry.id], f"hello from the SDK {RUN}", "listed body")
        eq(bodies[second.id], "second", "listed body of the second")
    def entry_update():
        updated = client.timeline_entries.update(TimelineEntriesUpdateRequest(id=entry.id, body="edited body"))
        eq(updated.id, entry.id, "id")
        eq(updated.body, "edited body", "body")
        got = client.timeline_entries.get(TimelineEntriesGetRequest(id=entry.id))
        eq(got.body, "edited body", "body read back")
    def entry_delete():
        client.timeline_entries.delete(TimelineEntriesDeleteRequest(id=entry.id))
        try:
            got = client.timeline_entries.get(TimelineEntriesGetRequest(id=entry.id))
        except NotFoundError:
            return
        assert not got.body, f"deleted entry still has its body {got.body!r}"
    if entry:
        c("timeline-entries.get", entry_get)
        c("timeline-entries.list (object=conversation)", entry_list)
        c("timeline-entries.update ({id, body}, no type)", entry_update)
        c("timeline-entries.delete (then body gone or NotFoundError)", entry_delete)
    else:
        for n in ("timeline-entries.get", "timeline-entries.list", "timeline-entries.update",
                  "timeline-entries.delete"):
            skip_because(n, "timeline-entries.create failed")

    def conv_delete():
        client.conversations.delete(ConversationsDeleteRequest(id=conv.id))
        try:
            client.conversations.get(ConversationsGetRequest(id=conv.id))
        except NotFoundError:
            return
        raise AssertionError("conversations.get still finds the deleted conversation")
    if conv:
        c("conversations.delete then get → NotFoundError", conv_delete)
    else:
        skip_because("conversations.delete", "conversations.create failed")

    def not_found():
        try:
            client.conversations.get(ConversationsGetRequest(id="don:core:dvrv-us-1:devo/parley:conversation/999999"))
        except NotFoundError as exc:
            assert exc.message and exc.message != "Unknown error", f"message not taken from body: {exc.message!r}"
            return
        raise AssertionError("no NotFoundError for an unknown conversation")
    c("unknown conversation → NotFoundError with the body's message", not_found)

    # ---- pagination to the end of a long list ---------------------------------------------------------
    after = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=2)
    created = check("create %d conversations (plain HTTPS, for pagination)" % PAGINATION_COUNT,
                    lambda: bulk_create_conversations(port, cert, PAGINATION_COUNT))

    def paginate_modified_since():
        before = wire.count.get("/conversations.list", 0)
        listed = client.conversations.list_modified_since(after, page_size=25)
        requests = wire.count.get("/conversations.list", 0) - before
        ids = [x.id for x in listed]
        assert requests >= PAGINATION_COUNT // 25 + 1, f"only {requests} page requests for {len(ids)} conversations"
        mine = [i for i in ids if i in set(created)]
        eq(len(mine), PAGINATION_COUNT, "created conversations seen")
        eq(len(set(mine)), PAGINATION_COUNT, "created conversations seen once each")
        eq(len(ids), len(set(ids)), "no conversation listed twice")
        dates = [x.modified_date for x in listed]
        assert all(d is not None for d in dates), "modified_date missing"
        assert dates == sorted(dates, reverse=True), "not sorted by modified_date desc"
        titles = {x.id: x.title for x in listed}
        eq(titles[created[0]], f"page-{RUN}-000", "title of the first created")
        eq(titles[created[-1]], f"page-{RUN}-{PAGINATION_COUNT - 1:03d}", "title of the last created")
    def paginate_plain():
        # The SDK's list() hands back only one page; a caller sees it capped at the limit.
        page = client.conversations.list(ConversationsListRequest(limit=100))
        eq(len(page), 100, "first page size with limit=100")
        eq(len({x.id for x in page}), 100, "distinct ids on the page")
    def modified_filter():
        # The filter exactly as the SDK sends it ({modified_date: {after: ISO-8601 with microseconds}}).
        from devrev.models.base import DateFilter
        later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
        page = client.conversations.list(ConversationsListRequest(limit=100, modified_date=DateFilter(after=later)))
        eq([x.id for x in page], [], "conversations modified after now+1s")
        page = client.conversations.list(ConversationsListRequest(limit=100, modified_date=DateFilter(after=after)))
        eq(len(page), 100, "conversations modified after the bulk start, first page")
        assert set(x.id for x in page) <= set(created), "modified_date.after let older conversations through"
    def list_defaults():
        eq(len(client.conversations.list()) > 0, True, "conversations.list() with an empty body")
        eq(len(client.tags.list()) >= 6, True, "tags.list() with an empty body")
        eq(len(client.groups.list()) >= 1, True, "groups.list() with an empty body")
    if created:
        c("conversations.list(modified_date={after}) filters on the server", modified_filter)
        c("list() with no arguments (body {}) for conversations, tags, groups", list_defaults)
        c("conversations.list_modified_since: paged (25/page) to the end, each seen exactly once",
          paginate_modified_since)
        c("conversations.list(limit=100) returns exactly 100", paginate_plain)
    else:
        skip_because("conversations pagination", "bulk create failed")

    c("circuit breaker closed at the end", lambda: eq(client._http.is_circuit_open, False, "circuit open"))
    client.close()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    for name in [k for k in os.environ if k.startswith("DEVREV_")]:
        del os.environ[name]
    directory = tempfile.mkdtemp(prefix="parley-sdk-test-")
    process = None
    began = time.time()
    try:
        cert, key = make_cert(directory)
        port = free_port()
        process = start(binary, port, directory, cert, key)
        os.chdir(directory)  # the SDK's settings also read ./.env: keep it away from any in the repo
        run(port, cert)
    except Exception as exc:  # noqa: BLE001
        global failed
        failed += 1
        print(f"FAIL harness: {type(exc).__name__}: {exc}")
        traceback.print_exc()
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(directory, ignore_errors=True)
    print(f"({time.time() - began:.1f}s)" + (f" failed: {', '.join(failures)}" if failures else ""))
    print(f"sdk-test: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
