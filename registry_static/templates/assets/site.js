// Client-side search and filters over the plugin cards: no server, works from file:// too.
(function () {
  "use strict";
  var search = document.getElementById("search");
  var lang = document.getElementById("filter-language");
  var perm = document.getElementById("filter-permission");
  var tag = document.getElementById("filter-tag");
  var cards = Array.prototype.slice.call(document.querySelectorAll(".plugin-card"));
  var count = document.getElementById("result-count");
  var none = document.getElementById("no-results");

  function permOk(kinds, want) {
    if (!want) return true;
    if (want === "none") return kinds.length === 0;
    if (want === "no-network") return kinds.indexOf("network") < 0;
    return kinds.indexOf(want) >= 0;
  }

  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    cards.forEach(function (card) {
      var text = card.dataset.text;
      var kinds = card.dataset.permissions ? card.dataset.permissions.split(" ") : [];
      var tags = card.dataset.tags ? card.dataset.tags.split(" ") : [];
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
        (!lang.value || card.dataset.language === lang.value) &&
        permOk(kinds, perm.value) &&
        (!tag.value || tags.indexOf(tag.value) >= 0);
      card.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + (shown === 1 ? " plugin" : " plugins") +
      (shown === cards.length ? "" : " of " + cards.length);
    none.hidden = shown !== 0;
    var params = new URLSearchParams();
    if (search.value) params.set("q", search.value);
    if (lang.value) params.set("language", lang.value);
    if (perm.value) params.set("permission", perm.value);
    if (tag.value) params.set("tag", tag.value);
    var qs = params.toString();
    history.replaceState(null, "", qs ? "#" + qs : location.pathname);
  }

  var initial = new URLSearchParams(location.hash.slice(1));
  search.value = initial.get("q") || "";
  lang.value = initial.get("language") || "";
  perm.value = initial.get("permission") || "";
  tag.value = initial.get("tag") || "";
  [search, lang, perm, tag].forEach(function (el) {
    el.addEventListener("input", apply);
    el.addEventListener("change", apply);
  });
  apply();
})();
