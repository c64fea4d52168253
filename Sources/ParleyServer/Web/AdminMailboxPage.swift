import Foundation
import Hummingbird
import ParleyApp
import ParleyCore
import ParleyStore

/// The admin page for mailboxes (docs/email.md): the support addresses mail arrives at, their group and
/// relay and IMAP account, added and deleted through the same use cases as `mailboxes.*`. The relay's and
/// the IMAP account's passwords are typed once and never shown again (the page shows scheme, host and port).
extension WebInterface {
    func performMailboxes(_ action: String, number: Int?, form: FormData, caller: Caller) async throws -> String {
        switch (action, number) {
        case ("create", nil):
            guard let address = form.text("address") else { throw APIError.missing("address") }
            let group = try form.text("group").map { try Fields.parseID($0, field: "group", [.group]).number }
            _ = try await api.app.createMailbox(address: address, displayName: form.text("display_name"), group: group,
                                                smtpRelay: form.text("smtp_relay"), imap: form.text("imap"), by: caller)
            return "mailbox_created"
        case ("delete", let number?):
            try await api.app.delete(Mailbox.self, number: number, actor: caller.actor, at: clock.now())
            return "mailbox_deleted"
        default:
            throw APIError.notFound("admin action '\(action)'")
        }
    }

    func mailboxesSection(_ session: WebSession) async throws -> HTML {
        let csrf = pages.csrfField(session)
        let mailboxes = try await allOf(Mailbox.self)
        let groups = try await allOf(Group.self)
        let names = Dictionary(groups.map { ($0.number, $0.name) }, uniquingKeysWith: { first, _ in first })
        let rows = HTML.join(mailboxes.map { mailbox -> HTML in
            """
            <tr data-mailbox="\(mailbox.address)"><td><strong>\(mailbox.address)</strong>
              <div class="small muted">\(mailbox.displayName ?? "")</div></td>
              <td>\(mailbox.group.map { names[$0] ?? ObjectID(.group, $0).displayID } ?? "—")</td>
              <td class="small">\(Mailbox.redacted(mailbox.smtpRelay) ?? "no relay: replies are not mailed")</td>
              <td class="small">\(Mailbox.redacted(mailbox.imap) ?? "—")</td>
              <td class="actions"><form method="post" action="/inbox/admin/mailboxes/\(mailbox.number)/delete">\(csrf)<button class="danger" type="submit">Delete</button></form></td></tr>
            """
        })
        let options = HTML.join(groups.map { "<option value=\"\($0.id.displayID)\">\($0.name)</option>" })
        return """
        <p class="small muted">Mail to these addresses becomes conversations when <code>parley serve</code> runs with
        <code>--smtp-listen</code> or <code>--lmtp-listen</code> behind your mail server, or when Parley polls the mailbox over IMAP;
        agents' replies go out through the relay.</p>
        <table class="list"><thead><tr><th>Address</th><th>Group</th><th>Relay</th><th>IMAP</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
        <h2>Add a mailbox</h2>
        <form class="stack" method="post" action="/inbox/admin/mailboxes" id="add-mailbox">\(csrf)
          <label>Address <input type="email" name="address" required placeholder="support@example.com"></label>
          <label>Name shown to customers <input type="text" name="display_name" placeholder="Example Support"></label>
          <label>Group for new mail <select name="group"><option value="">none</option>\(options)</select></label>
          <label>Outbound relay <input type="password" name="smtp_relay" autocomplete="off" placeholder="smtp://USER:PASS@HOST:587 (kept, never shown again)"></label>
          <label>IMAP account to poll (optional) <input type="password" name="imap" autocomplete="off" placeholder="imaps://USER:PASS@HOST:993/INBOX (kept, never shown again)"></label>
          <button class="primary" type="submit">Add mailbox</button>
        </form>
        """
    }
}
