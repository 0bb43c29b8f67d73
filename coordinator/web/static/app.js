// Gantry dashboard script. Every page is complete without it; it keeps
// pages current with Server-Sent Events (see coordinator/web/live.go),
// ticks running durations, and opens collapsed log sections to show a
// linked line. Hand-written, no dependencies.
(function () {
  'use strict';

  // Set once per page load: a reload would reset it.
  window.gantryPage = { loadedAt: Date.now() };

  var indicator = document.getElementById('live-status');
  var streams = 0;
  function showState(text, cls) {
    if (indicator) {
      indicator.textContent = text;
      indicator.className = 'live ' + cls;
    }
  }

  // follow opens an event stream and calls handlers[event](data).
  function follow(url, handlers) {
    if (!window.EventSource) {
      return;
    }
    var es = new EventSource(url);
    streams++;
    showState('live', 'on');
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (e) { handlers[name](e.data); });
    });
    es.addEventListener('end', function () {
      es.close();
      streams--;
      if (streams === 0) {
        showState('final', 'ended');
      }
    });
    es.onopen = function () { showState('live', 'on'); };
    es.onerror = function () {
      if (es.readyState !== EventSource.CLOSED) {
        showState('reconnecting', 'off');
      }
    };
  }

  // Live regions: the server sends their new HTML, rendered by the same
  // templates as the page. A region holding a form being filled in (a
  // runner's drain) waits until it is left alone.
  document.querySelectorAll('[data-live]').forEach(function (region) {
    var url = region.getAttribute('data-live');
    if (!url) {
      return;
    }
    var pending = null;
    function busy() {
      var inputs = region.querySelectorAll('input');
      for (var i = 0; i < inputs.length; i++) {
        if (inputs[i] === document.activeElement || inputs[i].value !== '') {
          return true;
        }
      }
      return false;
    }
    function apply() {
      if (pending !== null && !busy()) {
        region.innerHTML = pending;
        pending = null;
        tick();
      }
    }
    region.addEventListener('focusout', function () { setTimeout(apply, 0); });
    follow(url, { update: function (html) { pending = html; apply(); } });
  });

  // The live log: items to append at the innermost open section.
  var log = document.getElementById('log');
  if (log && log.getAttribute('data-follow')) {
    follow(log.getAttribute('data-follow'), { log: function (data) { appendLog(JSON.parse(data)); } });
  }

  function openSections() {
    return log.querySelectorAll('details[data-unclosed]');
  }

  function appendLog(items) {
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    var empty = document.getElementById('log-empty');
    if (empty) {
      empty.remove();
    }
    items.forEach(function (it) {
      var open = openSections();
      var last = open.length ? open[open.length - 1] : null;
      if (it.k === 'end') {
        if (last) {
          last.removeAttribute('data-unclosed');
          var dur = last.querySelector(':scope > summary .dur');
          if (dur) {
            dur.textContent = it.d || '';
          }
        }
        return;
      }
      var into = last ? last.querySelector(':scope > .body') : log;
      into.insertAdjacentHTML('beforeend', it.h);
    });
    if (atBottom) {
      window.scrollTo(0, document.body.scrollHeight);
    }
  }

  // Durations of running jobs and runs grow by the second.
  function formatDuration(ms) {
    var s = Math.round(ms / 1000);
    if (ms < 1000) {
      return '<1s';
    }
    var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60);
    s = s % 60;
    if (h > 0) {
      return h + 'h' + m + 'm' + s + 's';
    }
    if (m > 0) {
      return m + 'm' + s + 's';
    }
    return s + 's';
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll('[data-since]').forEach(function (el) {
      el.textContent = formatDuration(Math.max(now - Number(el.getAttribute('data-since')), 0));
    });
  }
  setInterval(tick, 1000);

  // A link to a line (#L12) inside a collapsed section opens it.
  function reveal() {
    if (!/^#L\d+$/.test(location.hash)) {
      return;
    }
    var el = document.getElementById(location.hash.slice(1));
    for (var p = el; p; p = p.parentElement) {
      if (p.tagName === 'DETAILS') {
        p.open = true;
      }
    }
    if (el) {
      el.scrollIntoView({ block: 'center' });
    }
  }
  window.addEventListener('hashchange', reveal);
  reveal();
})();
