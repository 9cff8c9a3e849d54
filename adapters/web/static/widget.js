/* relaydesk chat widget: <script src="https://support.example.com/widget.js" async></script>
 * Plain JavaScript, no build step. Everything lives in an open shadow root (the host page's
 * CSS can't reach in); every text a person wrote is set with textContent, never as markup.
 * Stable attributes for site owners' tests: data-relaydesk="launcher|input|send|attach|message"
 * (messages carry data-author="visitor|operator|bot"). */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__relaydesk) return;
  window.__relaydesk = true;
  var base = new URL(script.src, location.href).href.replace(/\/widget\.js(\?.*)?$/, "");
  var api = base + "/web/api/";
  var TEXTS = {
    en: {open: "Chat with us", close: "Close", placeholder: "Write a message…", send: "Send",
      attach: "Attach a file", closed: "The conversation is closed. Write to start a new one.",
      offline: "Connecting…", failed: "Not sent: ", file: "File"},
    ru: {open: "Напишите нам", close: "Закрыть", placeholder: "Напишите сообщение…",
      send: "Отправить", attach: "Прикрепить файл",
      closed: "Диалог закрыт. Напишите, чтобы начать новый.", offline: "Подключение…",
      failed: "Не отправлено: ", file: "Файл"}
  };
  var lang = (script.getAttribute("data-lang") || navigator.language || "en").slice(0, 2);
  var t = TEXTS[lang] || TEXTS.en;
  var store = {
    get: function (k, d) {
      try { var v = localStorage.getItem("relaydesk." + k); return v ? JSON.parse(v) : d; }
      catch (e) { return d; }
    },
    set: function (k, v) { try { localStorage.setItem("relaydesk." + k, JSON.stringify(v)); } catch (e) { /* private mode */ } }
  };
  var token = store.get("token", null), config = null, ws = null, ready = false, last = 0;
  var wsFailures = 0, polling = script.getAttribute("data-transport") === "poll";
  var shown = {}, byClient = {}, retryTimer = null;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs) if (attrs[k] != null) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  }

  /* --- the page ---------------------------------------------------------------------- */
  var host = el("div", {"data-relaydesk": "widget"});
  var root = host.attachShadow({mode: "open"});
  root.appendChild(el("link", {rel: "stylesheet", href: base + "/web/widget.css"}));
  var launcher = el("button", {type: "button", "data-relaydesk": "launcher", "class": "launcher",
    "aria-label": t.open}, "💬");
  var panel = el("section", {"class": "panel", hidden: "", "aria-label": t.open});
  var head = el("header", {});
  var title = el("span", {"class": "title"}, t.open);
  var shut = el("button", {type: "button", "class": "shut", "aria-label": t.close}, "×");
  head.appendChild(title); head.appendChild(shut);
  var list = el("div", {"class": "list", "data-relaydesk": "messages", "aria-live": "polite"});
  var status = el("div", {"class": "status", "data-relaydesk": "status"}, t.offline);
  var form = el("form", {"class": "compose"});
  var attach = el("input", {type: "file", "data-relaydesk": "attach", "aria-label": t.attach});
  var attachLabel = el("label", {"class": "clip", title: t.attach}, "📎");
  attachLabel.appendChild(attach);
  var input = el("textarea", {"data-relaydesk": "input", rows: "1", placeholder: t.placeholder,
    maxlength: "4000"});
  var send = el("button", {type: "submit", "data-relaydesk": "send"}, t.send);
  form.appendChild(attachLabel); form.appendChild(input); form.appendChild(send);
  panel.appendChild(head); panel.appendChild(list); panel.appendChild(status);
  panel.appendChild(form);
  root.appendChild(launcher); root.appendChild(panel);

  function toggle(open) {
    if (open) { panel.removeAttribute("hidden"); input.focus(); connect(); }
    else panel.setAttribute("hidden", "");
    store.set("open", open);
  }
  launcher.addEventListener("click", function () { toggle(panel.hasAttribute("hidden")); });
  shut.addEventListener("click", function () { toggle(false); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  form.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
  attach.addEventListener("change", function () {
    var file = attach.files && attach.files[0];
    attach.value = "";
    if (file) upload(file);
  });

  /* --- messages ---------------------------------------------------------------------- */
  function scroll() { list.scrollTop = list.scrollHeight; }

  function bubble(author, name, text) {
    var node = el("div", {"class": "msg " + author, "data-relaydesk": "message",
      "data-author": author});
    if (name) node.appendChild(el("div", {"class": "name"}, name));
    node.appendChild(el("div", {"class": "text"}, text || ""));
    return node;
  }

  function fileLink(node, f) {
    var box = el("div", {"class": "file"});
    if (/^image\//.test(f.mime || "") && f.mime !== "image/svg+xml") {
      var img = el("img", {alt: f.name || t.file, "data-relaydesk": "image"});
      box.appendChild(img);
      fetchFile(f.url).then(function (url) { img.src = url; scroll(); });
    } else {
      var a = el("a", {href: "#", "data-relaydesk": "file"}, "📄 " + (f.name || t.file));
      a.addEventListener("click", function (e) {
        e.preventDefault();
        fetchFile(f.url).then(function (url) {
          var d = el("a", {href: url, download: f.name || "file"}); d.click();
        });
      });
      box.appendChild(a);
    }
    node.appendChild(box);
  }

  function fetchFile(url) {
    return fetch(api + url, {headers: {Authorization: "Bearer " + token}})
      .then(function (r) { return r.blob(); })
      .then(function (b) { return URL.createObjectURL(b); });
  }

  function choices(node, ev) {
    (ev.choices || []).forEach(function (row) {
      var line = el("div", {"class": "choices"});
      row.forEach(function (c) {
        var b = el("button", {type: "button", "data-relaydesk": "choice"}, c.label);
        b.addEventListener("click", function () { press(ev.id, c.payload); });
        line.appendChild(b);
      });
      node.appendChild(line);
    });
  }

  function show(ev) {
    if (ev.id <= last) return;
    last = ev.id;
    if (ev.kind === "edit") {
      var target = shown[ev.target];
      if (target) target.querySelector(".text").textContent = ev.text;
      return;
    }
    if (ev.kind === "closed") {
      list.appendChild(el("div", {"class": "closed", "data-relaydesk": "closed"}, t.closed));
      return scroll();
    }
    var node = ev.kind === "visitor" && byClient[ev.client_id];
    if (node) {  // our own message, now acknowledged: the same bubble, not a second one
      node.removeAttribute("data-pending");
      delete byClient[ev.client_id];
    } else {
      node = bubble(ev.kind, ev.kind === "visitor" ? "" : ev.name, ev.text);
      (ev.files || []).forEach(function (f) { fileLink(node, f); });
      choices(node, ev);
      list.appendChild(node);
    }
    node.setAttribute("data-id", ev.id);
    shown[ev.id] = node;
    scroll();
  }

  /* --- sending: kept until acknowledged, resent with the same client id -------------- */
  function pending() { return store.get("pending", []); }
  function forget(cid) {
    store.set("pending", pending().filter(function (p) { return p.client_id !== cid; }));
  }
  function newId() {
    var a = new Uint8Array(12); crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function submit() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    queue({client_id: newId(), text: text});
  }

  function queue(msg) {
    store.set("pending", pending().concat([msg]));
    var node = bubble("visitor", "", msg.text);
    if (msg.name) node.appendChild(el("div", {"class": "file"}, "📄 " + msg.name));
    node.setAttribute("data-pending", "");
    byClient[msg.client_id] = node;
    list.appendChild(node); scroll();
    deliver(msg);
  }

  function context(msg) {
    msg.page = location.href; msg.referrer = document.referrer || null;
    msg.lang = navigator.language; msg.utc_offset = -new Date().getTimezoneOffset();
    msg.name = script.getAttribute("data-name") || null;
    return msg;
  }

  function deliver(msg) {
    if (polling) {
      post("messages", context(Object.assign({}, msg))).then(function (r) {
        if (r.ok) { forget(msg.client_id); pull(); } else refused(msg.client_id, r.body, r.retry);
      }, function () { later(); });
    } else if (ready) {
      ws.send(JSON.stringify(Object.assign({type: "send"}, msg)));
    }
  }

  function refused(cid, err, retryAfter) {
    if (err.error === "rate_limited" || err.error === "retry" || err.code === "rate_limited"
        || err.code === "retry") return later((retryAfter || err.retry_after || 2) * 1000);
    forget(cid);
    var node = byClient[cid];
    if (node) node.appendChild(el("div", {"class": "failed"}, t.failed + (err.message || "")));
  }

  function later(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () { pending().forEach(deliver); }, ms || 2000);
  }

  function upload(file) {
    if (config && file.size > config.max_upload) return refusedLocal(file.name);
    fetch(api + "upload", {method: "POST", body: file, headers: {
      Authorization: "Bearer " + token, "Content-Type": file.type || "application/octet-stream",
      "X-File-Name": encodeURIComponent(file.name)}})
      .then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
      .then(function (r) {
        if (!r.ok) return refusedLocal(file.name + " — " + r.body.message);
        queue({client_id: newId(), text: input.value || "", file: r.body.file,
          name: file.name});
        input.value = "";
      });
  }
  function refusedLocal(what) {
    list.appendChild(el("div", {"class": "failed"}, t.failed + what)); scroll();
  }

  function press(eventId, payload) {
    if (ready) ws.send(JSON.stringify({type: "press", event: eventId, payload: payload}));
    else post("press", {event: eventId, payload: payload});
  }

  /* --- transport: a WebSocket, long polling where sockets are blocked --------------- */
  function post(path, body) {
    return fetch(api + path, {method: "POST", body: JSON.stringify(body), headers: {
      "Content-Type": "application/json", Authorization: "Bearer " + token}})
      .then(function (r) {
        return r.json().then(function (b) {
          return {ok: r.ok, body: b, retry: +r.headers.get("Retry-After")};
        });
      });
  }

  function session() {
    if (config) return Promise.resolve();
    return fetch(api + "session", {method: "POST", body: JSON.stringify({token: token}),
      headers: {"Content-Type": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (c) {
        config = c; token = c.token; store.set("token", token);
        title.textContent = c.title;
        host.style.setProperty("--rd-color", c.color);
      });
  }

  var connecting = false;
  function connect() {
    if (connecting || ready) return;
    connecting = true;
    session().then(polling ? poll : socket, function () {
      connecting = false; setTimeout(connect, 3000);
    });
  }

  function socket() {
    ws = new WebSocket(base.replace(/^http/, "ws") + "/web/ws");
    ws.onopen = function () {
      ws.send(JSON.stringify(context({type: "hello", token: token, after: last})));
    };
    ws.onmessage = function (m) {
      var f = JSON.parse(m.data);
      if (f.type === "ready") {
        ready = true; connecting = false; wsFailures = 0;
        status.setAttribute("hidden", "");
        pending().forEach(deliver);
      } else if (f.type === "events") f.events.forEach(show);
      else if (f.type === "ack") forget(f.client_id);
      else if (f.type === "error" && f.client_id) refused(f.client_id, f, f.retry_after);
      else if (f.type === "error" && f.code === "bad_token") { token = null; config = null; }
    };
    ws.onclose = function () {
      var wasReady = ready;
      ready = false; connecting = false; ws = null;
      status.removeAttribute("hidden");
      if (!wasReady && ++wsFailures >= 3) polling = true;  // sockets blocked on this network
      setTimeout(connect, wasReady ? 500 : 1500);
    };
  }

  function poll() {
    connecting = false; ready = false;
    status.setAttribute("hidden", "");
    if (!poll.running) { poll.running = true; pending().forEach(deliver); loop(); }
    function loop() {
      pull().then(loop, function () { setTimeout(loop, 3000); });
    }
  }
  function pull() {
    return fetch(api + "events?after=" + last, {headers: {Authorization: "Bearer " + token}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (b) { b.events.forEach(show); });
  }

  function start() {
    document.body.appendChild(host);
    if (store.get("open", false)) toggle(true);
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
