/// The inbox's and widget's stylesheet and scripts: plain CSS and JavaScript kept here, served by the
/// binary itself (no build step, nothing fetched at run time). Pages work without the scripts.
enum WebAssets {
    /// A speech bubble in the inbox's accent colour (no script, no external reference).
    static let favicon = #"""
    <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path fill="#0b57d0" d="M6 4h20a4 4 0 0 1 4 4v12a4 4 0 0 1-4 4H14l-7 6v-6H6a4 4 0 0 1-4-4V8a4 4 0 0 1 4-4z"/><path fill="#fff" d="M9 11h14v2H9zm0 5h10v2H9z"/></svg>
    """#

    static let stylesheet = #"""
    :root { --ink: #1f2328; --muted: #656d76; --line: #d8dee4; --paper: #ffffff; --wash: #f6f8fa; --accent: #0b57d0;
            --accent-wash: #e8f0fe; --note: #fff8c5; --note-line: #e3c04a; --danger: #b42318; --ok: #1a7f37; }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--wash); }
    a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
    header.top { display: flex; gap: 1rem; align-items: center; padding: .6rem 1rem; background: var(--paper); border-bottom: 1px solid var(--line); flex-wrap: wrap; }
    header.top .brand { font-weight: 700; color: var(--ink); }
    header.top form.search { flex: 1; min-width: 12rem; display: flex; }
    header.top form.search input { flex: 1; }
    header.top .who { color: var(--muted); font-size: .9rem; }
    input, select, textarea, button { font: inherit; }
    input[type=text], input[type=search], input[type=email], input[type=password], select, textarea {
        border: 1px solid var(--line); border-radius: 6px; padding: .35rem .5rem; background: var(--paper); color: var(--ink); }
    textarea { width: 100%; min-height: 6rem; resize: vertical; }
    input.wide { width: 100%; }
    p.presence { min-height: 1.2em; margin: 0 0 .4rem; color: var(--accent); }
    table.list th.select, table.list td.select { width: 2rem; }
    ul.picker { list-style: none; margin: .2rem 0; padding: .2rem; background: var(--paper); border: 1px solid var(--line); border-radius: 6px; max-width: 28rem; }
    ul.picker li { padding: .25rem .5rem; border-radius: 4px; cursor: pointer; }
    ul.picker li.active { background: var(--accent-wash); }
    .attachments { display: flex; flex-wrap: wrap; gap: .5rem; margin-top: .4rem; align-items: flex-start; }
    a.attachment.image { display: grid; gap: .2rem; max-width: 16rem; }
    a.attachment.image img { max-width: 16rem; max-height: 12rem; border: 1px solid var(--line); border-radius: 6px; background: var(--paper); }
    a.attachment.file { border: 1px solid var(--line); border-radius: 6px; padding: .2rem .5rem; background: var(--paper); }
    label.files { display: block; margin: .3rem 0; padding: .4rem .5rem; border: 1px dashed var(--line); border-radius: 6px; }
    label.files.dragging, form.reply.dragging label.files { border-color: var(--accent); background: var(--accent-wash); }
    label.files ul { margin: .2rem 0 0; padding-left: 1.2rem; color: var(--ink); }
    details.saved { margin: .3rem 0; } details.saved ul { margin: .3rem 0; padding-left: 1.2rem; }
    main.admin h2 { font-size: 1rem; margin: 1.4rem 0 .5rem; }
    form.stack { display: grid; gap: .5rem; max-width: 28rem; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; }
    form.stack label { display: grid; gap: .2rem; font-size: .9rem; color: var(--muted); }
    form.inline { display: inline-flex; gap: .3rem; align-items: center; flex-wrap: wrap; }
    table.list td.title .preview { max-width: 48rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    table.list td.title .requester { font-weight: 600; }
    button, .button { display: inline-block; border: 1px solid var(--line); border-radius: 6px; padding: .35rem .8rem; background: var(--paper);
        color: var(--ink); cursor: pointer; line-height: 1.3; }
    button.primary, .button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
    button.danger { color: var(--danger); }
    button:hover, .button:hover { filter: brightness(.96); text-decoration: none; }
    .layout { display: grid; grid-template-columns: 14rem 1fr; min-height: calc(100vh - 3.2rem); }
    nav.views { background: var(--paper); border-right: 1px solid var(--line); padding: .8rem 0; }
    nav.views a { display: flex; justify-content: space-between; padding: .3rem 1rem; color: var(--ink); }
    nav.views a.current { background: var(--accent-wash); font-weight: 600; }
    nav.views .count { color: var(--muted); font-variant-numeric: tabular-nums; }
    nav.views h2 { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 1rem 1rem .3rem; }
    main { padding: 1rem 1.2rem; min-width: 0; }
    h1 { font-size: 1.3rem; margin: 0 0 .6rem; }
    form.filters { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .8rem; align-items: center; }
    table.list { width: 100%; border-collapse: collapse; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
    table.list th, table.list td { padding: .5rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
    table.list th { font-size: .8rem; color: var(--muted); font-weight: 600; background: var(--wash); }
    table.list tr.selected td { background: var(--accent-wash); }
    table.list td.title a { color: var(--ink); font-weight: 600; }
    table.list td.actions { text-align: right; white-space: nowrap; }
    .muted { color: var(--muted); } .small { font-size: .85rem; }
    .badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .78rem; border: 1px solid var(--line); background: var(--wash); white-space: nowrap; }
    .badge.p0 { background: #ffebe9; border-color: #ffcecb; color: var(--danger); } .badge.p1 { background: #fff1e5; border-color: #ffd8b5; }
    .badge.stage { background: var(--accent-wash); border-color: #c2d7fb; }
    .badge.tag-gray { background: #eaeef2; border-color: #d0d7de; } .badge.tag-red { background: #ffebe9; border-color: #ff8182; }
    .badge.tag-orange { background: #fff1e5; border-color: #ffb77c; } .badge.tag-yellow { background: #fff8c5; border-color: #e3c04a; }
    .badge.tag-green { background: #dafbe1; border-color: #6fdd8b; } .badge.tag-teal { background: #d8f6f3; border-color: #5ed3c4; }
    .badge.tag-blue { background: #ddf4ff; border-color: #80ccff; } .badge.tag-purple { background: #fbefff; border-color: #d8b9ff; }
    .badge.tag-pink { background: #ffeff7; border-color: #ffadda; }
    .flash { padding: .5rem .8rem; border-radius: 6px; margin-bottom: .8rem; background: #ffebe9; border: 1px solid #ffcecb; }
    .flash.ok { background: #dafbe1; border-color: #aceebb; }
    .empty { padding: 2rem; text-align: center; color: var(--muted); background: var(--paper); border: 1px dashed var(--line); border-radius: 8px; }
    .conversation { display: grid; grid-template-columns: 1fr 18rem; gap: 1rem; align-items: start; }
    .timeline { display: flex; flex-direction: column; gap: .6rem; }
    .entry { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: .6rem .8rem; max-width: 46rem; }
    .entry .meta { font-size: .8rem; color: var(--muted); margin-bottom: .25rem; }
    .entry .body { white-space: pre-wrap; overflow-wrap: anywhere; }
    .entry.agent { background: var(--accent-wash); border-color: #c2d7fb; align-self: flex-end; }
    .entry.note { background: var(--note); border-color: var(--note-line); align-self: flex-end; }
    .entry.note .meta::before { content: "Internal note · "; font-weight: 600; color: #7d5e00; }
    .event { font-size: .8rem; color: var(--muted); text-align: center; }
    aside.details { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; display: flex; flex-direction: column; gap: .7rem; }
    aside.details h3 { font-size: .75rem; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); margin: 0 0 .2rem; }
    aside.details dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .6rem; margin: 0; font-size: .9rem; }
    aside.details dt { color: var(--muted); }
    aside.details form { display: flex; gap: .3rem; flex-wrap: wrap; }
    .reply { margin-top: 1rem; background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: .8rem; }
    .reply .row { display: flex; gap: .8rem; align-items: center; margin-top: .5rem; flex-wrap: wrap; }
    .signin { max-width: 24rem; margin: 10vh auto; background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 1.4rem; }
    .signin label { display: block; margin: .6rem 0 .2rem; } .signin input { width: 100%; }
    kbd { border: 1px solid var(--line); border-bottom-width: 2px; border-radius: 4px; padding: 0 .3rem; font-size: .8rem; background: var(--paper); }
    .widget { max-width: 40rem; margin: 0 auto; padding: 1rem; }
    .widget .card { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: .8rem 1rem; margin-bottom: .6rem; display: block; color: var(--ink); }
    .widget .card:hover { border-color: var(--accent); text-decoration: none; }
    .proposal { background: #dafbe1; border: 1px solid #aceebb; border-radius: 8px; padding: .7rem; display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
    @media (max-width: 800px) {
        .layout { grid-template-columns: 1fr; } nav.views { border-right: 0; border-bottom: 1px solid var(--line); display: flex; flex-wrap: wrap; padding: .3rem; }
        nav.views h2 { display: none; } nav.views a { padding: .25rem .6rem; gap: .4rem; }
        .conversation { grid-template-columns: 1fr; }
        table.list th.optional, table.list td.optional { display: none; }
    }
    """#

    /// Live updates and keyboard shortcuts for the inbox (e focuses the resolution, Enter there resolves);
    /// the widget's live updates.
    /// Live: an EventSource on the page's `data-events` URL; on a change, the page is fetched again and every
    /// element with `data-live` is replaced, keeping what is being typed. Without JavaScript, links and forms work.
    static let pageScript = #"""
    (function () {
      "use strict";
      var body = document.body;
      var eventsURL = body.getAttribute("data-events");
      var pending = null;
      function refresh() {
        pending = null;
        fetch(window.location.href, { credentials: "same-origin", headers: { "X-Parley-Live": "1" } })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (!html) { return; }
            var next = new DOMParser().parseFromString(html, "text/html");
            // Rows selected for a bulk action stay selected when the list is refreshed.
            var checked = Array.prototype.map.call(document.querySelectorAll("input[name=selected]:checked"), function (box) { return box.value; });
            document.querySelectorAll("[data-live]").forEach(function (el) {
              var fresh = next.getElementById(el.id);
              if (fresh && el.innerHTML !== fresh.innerHTML) { el.innerHTML = fresh.innerHTML; }
            });
            document.querySelectorAll("input[name=selected]").forEach(function (box) { box.checked = checked.indexOf(box.value) !== -1; });
            // A message shown live counts as seen: the reply form will not warn about it.
            var latest = document.getElementById("latest-message"), seen = document.querySelector("#reply input[name=seen]");
            if (latest && seen) { seen.value = latest.getAttribute("data-at"); }
            body.setAttribute("data-refreshed", String(Date.now()));
            markSelection();
          })
          .catch(function () {});
      }
      if (eventsURL && window.EventSource) {
        var source = new EventSource(eventsURL, { withCredentials: true });
        // A page about one conversation (data-watch) refreshes for that conversation's changes only.
        var watch = body.getAttribute("data-watch");
        var onChange = function (event) {
          if (watch && event.data && event.data.indexOf(watch + '"') < 0 && event.data.indexOf(watch + ":") < 0) { return; }
          if (!pending) { pending = setTimeout(refresh, 120); }
        };
        ["conversation_created", "conversation_updated", "conversation_deleted", "timeline_entry_created",
         "timeline_entry_updated", "timeline_entry_deleted", "message"].forEach(function (type) {
          source.addEventListener(type, onChange);
        });
        source.addEventListener("open", function () { body.setAttribute("data-live-connected", "true"); });
        // The server pruned events this page had not seen yet: only a reload shows the current state.
        source.addEventListener("reset", function () { source.close(); window.location.reload(); });
      }

      // Keyboard shortcuts (inbox only): j/k move, o or Enter opens, r replies, e resolves, / searches, u goes back.
      var selected = 0;
      function rows() { return Array.prototype.slice.call(document.querySelectorAll("table.list tbody tr[data-href]")); }
      function markSelection() {
        var all = rows();
        if (!all.length) { return; }
        selected = Math.max(0, Math.min(selected, all.length - 1));
        all.forEach(function (row, i) { row.classList.toggle("selected", i === selected); });
      }
      if (body.getAttribute("data-shortcuts") !== "inbox") { return; }
      markSelection();
      document.addEventListener("keydown", function (event) {
        var target = event.target;
        if (event.ctrlKey || event.metaKey || event.altKey) { return; }
        if (target && target.id === "resolve-resolution" && event.key === "Enter") { target.form.submit(); event.preventDefault(); return; }
        if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) {
          if (event.key === "Escape") { target.blur(); }
          return;
        }
        var key = event.key;
        var all = rows();
        var go = function (selector) { var link = document.querySelector(selector); if (link) { window.location.href = link.href; } };
        if (key === "j" && all.length) { selected += 1; markSelection(); all[selected].scrollIntoView({ block: "nearest" }); }
        else if (key === "k" && all.length) { selected -= 1; markSelection(); all[selected].scrollIntoView({ block: "nearest" }); }
        else if ((key === "o" || key === "Enter") && all.length) { window.location.href = all[selected].getAttribute("data-href"); }
        else if (key === "r") {
          var box = document.getElementById("reply-body");
          if (box) { box.focus(); } else if (all.length) { window.location.href = all[selected].getAttribute("data-href") + "#reply"; }
        }
        else if (key === "e") { var resolve = document.getElementById("resolve-resolution"); if (resolve) { resolve.focus(); } }
        else if (key === "n") { go("a[rel=next]"); }
        else if (key === "p") { go("a[rel=prev]"); }
        else if (key === "u") { go("a[rel=up]"); }
        else if (key === "/") { var search = document.getElementById("search"); if (search) { search.focus(); } }
        else { return; }
        event.preventDefault();
      });
      // After the browser has scrolled to #reply (which would otherwise take the focus back).
      window.addEventListener("load", function () {
        if (window.location.hash !== "#reply") { return; }
        setTimeout(function () { var box = document.getElementById("reply-body"); if (box) { box.focus(); } }, 0);
      });
    })();
    // Presence: every 5 s the page says this agent is here, viewing or typing (a key in the reply box in the
    // last 4 s, sent at once when typing starts), and shows the other agents on the conversation.
    (function () {
      "use strict";
      var line = document.getElementById("presence");
      var form = document.getElementById("reply");
      if (!line || !form) { return; }
      var csrf = form.querySelector("input[name=_csrf]");
      var box = document.getElementById("reply-body");
      var lastKey = 0, sentTyping = false, timer = null;
      function send() {
        var typing = Date.now() - lastKey < 4000;
        sentTyping = typing;
        var data = new URLSearchParams();
        data.set("_csrf", csrf ? csrf.value : "");
        data.set("state", typing ? "typing" : "viewing");
        fetch(line.getAttribute("data-presence"), { method: "POST", credentials: "same-origin", body: data })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (answer) { if (answer) { line.textContent = answer.presence; } })
          .catch(function () {});
        clearTimeout(timer);
        timer = setTimeout(send, 5000);
      }
      if (box) { box.addEventListener("input", function () { lastKey = Date.now(); if (!sentTyping) { send(); } }); }
      timer = setTimeout(send, 5000);
    })();
    // Saved replies: "/" and a few letters in the reply box list the matching ones; Enter or Tab puts the
    // chosen one in place of what was typed, Esc closes the list.
    (function () {
      "use strict";
      var box = document.getElementById("reply-body");
      var items = Array.prototype.slice.call(document.querySelectorAll("#saved-replies [data-text]"));
      if (!box || !items.length) { return; }
      var picker = document.createElement("ul");
      picker.id = "reply-picker";
      picker.className = "picker";
      picker.setAttribute("role", "listbox");
      picker.hidden = true;
      box.parentNode.insertBefore(picker, box.nextSibling);
      var shown = [], active = 0, start = -1;
      function close() { picker.hidden = true; shown = []; }
      function query() {
        var before = box.value.slice(0, box.selectionStart);
        var match = /(^|\s)\/([^\s\/]*)$/.exec(before);
        if (!match) { return null; }
        start = before.length - match[2].length - 1;
        return match[2].toLowerCase();
      }
      function render() {
        picker.textContent = "";
        shown.forEach(function (item, i) {
          var li = document.createElement("li");
          li.setAttribute("role", "option");
          li.textContent = item.getAttribute("data-title");
          if (i === active) { li.className = "active"; li.setAttribute("aria-selected", "true"); }
          li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
          picker.appendChild(li);
        });
        picker.hidden = !shown.length;
      }
      function choose(i) {
        var item = shown[i];
        if (!item) { return; }
        var text = item.getAttribute("data-text");
        var end = box.selectionStart;
        box.value = box.value.slice(0, start) + text + box.value.slice(end);
        box.setSelectionRange(start + text.length, start + text.length);
        close();
        box.focus();
      }
      box.addEventListener("input", function () {
        var typed = query();
        if (typed === null) { close(); return; }
        shown = items.filter(function (item) { return item.getAttribute("data-title").toLowerCase().indexOf(typed) !== -1; }).slice(0, 8);
        active = 0;
        render();
      });
      box.addEventListener("keydown", function (event) {
        if (picker.hidden) { return; }
        if (event.key === "ArrowDown") { active = (active + 1) % shown.length; render(); }
        else if (event.key === "ArrowUp") { active = (active - 1 + shown.length) % shown.length; render(); }
        else if (event.key === "Enter" || event.key === "Tab") { choose(active); }
        else if (event.key === "Escape") { close(); }
        else { return; }
        event.preventDefault();
        event.stopPropagation();
      });
      box.addEventListener("blur", function () { setTimeout(close, 150); });
    })();
    // Files on a reply form: dropped on the form or pasted into its box (a screenshot), they join the form's
    // file input, so that sending the form sends them (without the script, the input alone works).
    (function () {
      var form = document.getElementById("reply");
      var input = form && form.querySelector("input[type=file][name=files]");
      if (!input || typeof DataTransfer === "undefined") { return; }
      var label = input.closest("label");
      var list = document.createElement("ul");
      label.appendChild(list);
      function show() {
        list.textContent = "";
        Array.prototype.forEach.call(input.files, function (file) {
          var li = document.createElement("li");
          li.textContent = file.name + " (" + Math.max(1, Math.round(file.size / 1024)) + " KiB)";
          list.appendChild(li);
        });
      }
      function add(files) {
        var all = new DataTransfer();
        Array.prototype.forEach.call(input.files, function (file) { all.items.add(file); });
        Array.prototype.forEach.call(files, function (file, i) {
          // A pasted screenshot is named "image.png" by the browser: numbered by time instead.
          if (file.name === "image.png" || !file.name) {
            file = new File([file], "pasted-" + Date.now() + "-" + i + "." + ((file.type.split("/")[1]) || "bin"), { type: file.type });
          }
          all.items.add(file);
        });
        input.files = all.files;
        show();
      }
      input.addEventListener("change", show);
      form.addEventListener("dragover", function (event) { event.preventDefault(); form.classList.add("dragging"); });
      form.addEventListener("dragleave", function () { form.classList.remove("dragging"); });
      form.addEventListener("drop", function (event) {
        event.preventDefault();
        form.classList.remove("dragging");
        if (event.dataTransfer && event.dataTransfer.files.length) { add(event.dataTransfer.files); }
      });
      form.addEventListener("paste", function (event) {
        var files = event.clipboardData && event.clipboardData.files;
        if (files && files.length) { event.preventDefault(); add(files); }
      });
    })();
    """#

    /// The one-line embed: `<script src="https://parley.example/widget.js" data-token="…" async></script>`
    /// adds a button that opens the widget in an iframe.
    static let embedScript = #"""
    (function () {
      "use strict";
      var script = document.currentScript;
      if (!script) { return; }
      var origin = new URL(script.src).origin;
      var token = script.getAttribute("data-token") || "";
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = script.getAttribute("data-label") || "Support";
      button.setAttribute("data-parley-widget", "button");
      button.style.cssText = "position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:999px;" +
        "padding:12px 18px;background:#0b57d0;color:#fff;font:600 15px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.2)";
      var frame = null;
      button.addEventListener("click", function () {
        if (frame) { frame.style.display = frame.style.display === "none" ? "block" : "none"; return; }
        frame = document.createElement("iframe");
        frame.title = "Support";
        frame.setAttribute("data-parley-widget", "frame");
        frame.src = origin + "/widget?token=" + encodeURIComponent(token);
        frame.style.cssText = "position:fixed;right:20px;bottom:76px;z-index:2147483000;width:min(400px,calc(100vw - 40px));" +
          "height:min(600px,calc(100vh - 110px));border:1px solid #d8dee4;border-radius:12px;background:#fff;box-shadow:0 8px 30px rgba(0,0,0,.2)";
        document.body.appendChild(frame);
      });
      document.body.appendChild(button);
    })();
    """#
}
