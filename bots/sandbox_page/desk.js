/* The sandbox's operator pane: the emulated group's topics, and a box to answer in each. */
(function () {
  "use strict";
  var box = document.getElementById("topics"), drafts = {};
  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }
  function render(desk) {
    document.getElementById("operator").textContent = desk.operator;
    var focused = document.activeElement && document.activeElement.dataset.topic;
    box.textContent = "";
    desk.topics.forEach(function (t) {
      var card = el("div", "topic" + (t.closed ? " closed" : ""));
      card.appendChild(el("h3", "", t.name));
      t.messages.forEach(function (m) {
        var line = el("div", "line" + (m.bot ? " bot" : ""));
        line.appendChild(el("span", "who", m.from));
        line.appendChild(document.createTextNode(m.text));
        card.appendChild(line);
      });
      var form = el("form"), input = el("input");
      input.placeholder = "Answer as the operator (or /close)";
      input.dataset.topic = t.id;
      input.value = drafts[t.id] || "";
      input.addEventListener("input", function () { drafts[t.id] = input.value; });
      form.appendChild(input);
      form.appendChild(el("button", "", "Send"));
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        drafts[t.id] = "";
        fetch("/sandbox/api/desk", {method: "POST", headers: {"Content-Type": "application/json"},
          body: JSON.stringify({topic: t.id, text: input.value})}).then(refresh);
      });
      card.appendChild(form);
      box.appendChild(card);
      if (String(focused) === String(t.id)) input.focus();
    });
  }
  function refresh() {
    return fetch("/sandbox/api/desk").then(function (r) { return r.json(); }).then(render);
  }
  refresh();
  setInterval(refresh, 1500);
})();
