(function () {
  // The values shared with Rust: the JSON before this script (app/src/early.rs). Without it the
  // app does it all.
  var C;
  try { C = JSON.parse(document.getElementById('wp-early').textContent); } catch (e) { return; }
  var keyPattern = new RegExp(C.keyPattern);
  function clamp(p, duration) {
    var hi = duration == null ? C.maxPosition : duration;
    return p !== p ? 0 : Math.min(Math.max(p, 0), hi);
  }

  // ---- The join math, pure: the engine's (checked against it in app/src/early_js_tests.rs).
  // Times in ms, positions in s. ----
  var M = {
    // rights.rs `is_valid_key`.
    validKey: function (k) { return typeof k === 'string' && keyPattern.test(k); },
    // sync/clock.rs `ClockSample::from_timestamps`: null when inconsistent.
    sample: function (t0, t1, t2, t3) {
      if (![t0, t1, t2, t3].every(Number.isFinite) || t3 < t0 || t2 < t1) return null;
      var rtt = (t3 - t0) - (t2 - t1);
      if (rtt < -C.rttRoundingMs) return null;
      return { offset: ((t1 - t0) + (t2 - t3)) / 2, rtt: Math.max(rtt, 0) };
    },
    // sync/clock.rs `ClockEstimator`: server minus client clock (null without samples).
    offset: function (samples) {
      var o = samples.slice(-C.clockWindow).sort(function (x, y) { return x.rtt - y.rtt; })
        .slice(0, C.clockBest).map(function (x) { return x.offset; })
        .sort(function (x, y) { return x - y; });
      var n = o.length;
      if (!n) return null;
      return n % 2 ? o[(n - 1) / 2] : (o[n / 2 - 1] + o[n / 2]) / 2;
    },
    // playback.rs `PlaybackState::position_at` (server time `now`).
    positionAt: function (st, now) {
      var p = st.position;
      if (st.playing) p += Math.max((now - st.updated_at) / 1000, 0) * st.rate;
      return clamp(p, st.duration);
    },
    // sync/engine/apply.rs for a player not playing, at client time `now`: where to seek and
    // whether to play; null at the end of the video (the app's business). A playing room is
    // aimed ahead by the engine's first guess of the start latency.
    join: function (st, offset, now) {
      if (!st.playing) return { seek: st.position, play: false };
      var at = M.positionAt(st, now + offset);
      if (st.duration != null && at >= st.duration - C.endMargin) return null;
      return { seek: clamp(at + C.seekLead * st.rate, st.duration), play: true };
    }
  };
  window.__wpEarlyMath = M;

  // ---- The player: created as soon as the IFrame API and #player are there. ----
  var q = { player: null, frame: null, box: null, video: null, events: [], listener: null, taken: false, ready: false, driven: false, echoes: [], pulse: null };
  window.__wpEarlyPlayer = q;
  // The app calls this when it takes the player over (`yt.rs`, `take_queue`): a first-frame
  // pulse still running ends now, so the app starts from the room's rate.
  q.handover = function () { if (q.pulse) q.pulse(); };
  // This page's own rate calls (a pulse and its end) are echoed by onPlaybackRateChange, maybe
  // after the app took over: such an echo is no viewer's change of speed, so it is dropped
  // here and never reaches the app (which would send it to the room). An echo that never
  // comes (the player ignored the call) is forgotten after ECHO_MS.
  var ECHO_MS = 5000;
  function setRate(p, rate) {
    q.echoes.push({ rate: rate, until: now() + ECHO_MS });
    p.setPlaybackRate(rate);
  }
  function ownEcho(rate) {
    var t = now();
    q.echoes = q.echoes.filter(function (e) { return e.until > t; });
    for (var i = 0; i < q.echoes.length; i++) {
      if (q.echoes[i].rate === rate) { q.echoes.splice(i, 1); return true; }
    }
    return false;
  }
  function emit(kind, data) {
    if (kind === 'ready') q.ready = true;
    if (kind === 'rate' && ownEcho(data)) return;
    if (q.listener) { q.listener(kind, data); return; }
    if (kind === 'state' && data === 1 && q.driven && !s.checked) {
      s.checked = true;
      setTimeout(check, 30);
    }
    // What this page's own sync did to the player is not the viewer's doing: not replayed.
    if (q.driven && (kind === 'state' || kind === 'rate')) return;
    q.events.push([kind, data]);
    if (kind === 'ready') sync();
  }
  // `fn(box)` with the player's box, once the parser has reached it (null: the page has none).
  function withBox(fn) {
    var box = document.getElementById('player');
    if (!box && document.readyState === 'loading') { setTimeout(function () { withBox(fn); }, 20); return; }
    fn(box);
  }
  // The embed's iframe, put in the box as soon as the parser reaches it: the embed's page and
  // its player code load beside the IFrame API script instead of after it. The API then takes
  // the iframe over (`new YT.Player(iframe)`, as documented for an existing embed).
  function frame(box) {
    if (q.taken || q.frame || !box || !box.dataset.video) return;
    // The app's player variables (`video::PLAYER_VARS`, the list `client/yt.rs` uses).
    var vars = {};
    C.playerVars.forEach(function (kv) { vars[kv[0]] = kv[1]; });
    vars.origin = location.origin;
    var start = Math.floor(Number(box.dataset.start) || 0);
    if (start > 0) vars.start = start;
    var f = document.createElement('iframe');
    f.src = 'https://www.youtube.com/embed/' + encodeURIComponent(box.dataset.video) + '?' +
      Object.keys(vars).map(function (k) { return k + '=' + encodeURIComponent(vars[k]); }).join('&');
    f.title = 'YouTube video player';
    f.width = '100%';
    f.height = '100%';
    f.setAttribute('frameborder', '0');
    f.setAttribute('allowfullscreen', '');
    f.setAttribute('allow', 'accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share');
    f.setAttribute('referrerpolicy', 'strict-origin-when-cross-origin');
    box.appendChild(f);
    q.frame = f;
    q.box = box;
    q.video = box.dataset.video;
  }
  function create(box) {
    if (q.taken || q.player || !box || !window.YT || !YT.Player) return;
    frame(box);
    if (!q.frame) return;
    try {
      q.player = new YT.Player(q.frame, {
        events: {
          onReady: function () { emit('ready'); },
          onStateChange: function (e) { emit('state', e.data); },
          onPlaybackRateChange: function (e) { emit('rate', e.data); },
          onError: function (e) { emit('error', e.data); }
        }
      });
      box.dataset.player = 'early';
    } catch (e) {
      q.player = null;
    }
  }
  var previous = window.onYouTubeIframeAPIReady;
  window.onYouTubeIframeAPIReady = function () {
    if (typeof previous === 'function') previous();
    withBox(create);
  };

  // ---- The socket: opened now, its messages kept (with their times) for the app. ----
  var s = { ws: null, session: null, key: null, msgs: [], taken: false, state: null, samples: [], pings: 0, applied: null, checked: false };
  window.__wpEarlySocket = s;
  function now() { return performance.timeOrigin + performance.now(); }
  // Only on a session's page (its player box is in the HTML; an unknown session's 404 page has
  // none).
  function open(box) {
    var id = C.session, key;
    if (!box || !box.dataset.video || !id || !window.WebSocket || !window.crypto) return;
    try {
      // The key the app would present (client/mod.rs `session_key`), made and kept the same way.
      var st = window.localStorage, hostKey = C.hostStoragePrefix + id, hash = location.hash;
      var secret = hash.indexOf(C.hostFragment) === 0 ? hash.slice(C.hostFragment.length) : null;
      if (M.validKey(secret)) st.setItem(hostKey, secret);
      key = st.getItem(hostKey);
      if (!M.validKey(key)) key = st.getItem(C.keyStorage);
      if (!M.validKey(key)) {
        var b = new Uint8Array(C.keyBytes);
        crypto.getRandomValues(b);
        key = Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
        st.setItem(C.keyStorage, key);
      }
      s.ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + C.wsPath + id,
        [C.subprotocol, C.keyProtocolPrefix + key]);
    } catch (e) {
      return; // No storage (the app then uses a key for this page only) or no socket.
    }
    s.session = id;
    s.key = key;
    s.ws.onmessage = function (e) {
      if (s.taken) return;
      if (s.msgs.length >= 1000) {
        // The app never came: leave the room rather than keep its traffic.
        s.ws.onmessage = null;
        s.ws.close(1000);
        s.msgs = [];
        return;
      }
      var t = now();
      s.msgs.push([e.data, t]);
      on(e.data, t);
    };
  }
  function on(text, t) {
    var m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (!m) return;
    if (m.type === 'hello') { s.state = m.state; ping(); }
    else if (m.type === 'state') s.state = m.state;
    else if (m.type === 'pong') {
      var x = M.sample(m.t0, m.t1, m.t2, t);
      if (x) s.samples.push(x);
    } else return;
    sync();
  }
  // The engine's clock burst.
  function ping() {
    if (s.taken || !s.ws || s.ws.readyState !== 1 || s.pings >= C.pingBurst) return;
    s.pings++;
    s.ws.send(JSON.stringify({ type: 'ping', t0: now() }));
    setTimeout(ping, C.pingGapMs);
  }

  // ---- Sync before the app: the engine's join, nothing more. ----
  function sync() {
    var p = q.player, st = s.state;
    if (s.taken || q.taken || !q.ready || !p || !st || !s.samples.length || st.video_id !== q.video) return;
    var rev = st.playback_revision || st.revision;
    if (rev === s.applied) return;
    var join = M.join(st, M.offset(s.samples), now());
    if (!join) return; // The end of the video: the app's business.
    try {
      if (join.play) {
        q.driven = true;
        s.applied = rev;
        if (p.getPlaybackRate() !== st.rate) p.setPlaybackRate(st.rate);
        p.seekTo(join.seek, true);
        p.playVideo();
      } else if (s.applied !== null) {
        // Paused after this page set it playing. (A paused room is left alone: seeking a
        // player that never played would start it.)
        s.applied = rev;
        p.pauseVideo();
        p.seekTo(join.seek, true);
      }
    } catch (e) { /* The app applies the state when it comes. */ }
  }
  // The room's position now (s), on the measured server clock.
  function target(st) { return M.positionAt(st, now() + M.offset(s.samples)); }

  // One correction once playing: the start latency varies (80-300 ms on the stand-in, more on a
  // busy phone), so a first frame can be ~0.1 s off. The error is the largest of three readings
  // 20 ms apart from 30 ms after PLAYING (a reading is late, never early: README, "Readings are
  // late"); beyond 25 ms, one rate pulse takes it out. The pulse is 2x when behind, 0.5x when
  // ahead (0.1 s and 0.2 s for 0.1 s off) where the player has them, else 1.5x, else the
  // engine's nearest rates (1.25x, 0.75x): a viewer who has just arrived is better served by a
  // short strong pulse than by a long gentle one. The engine, once it runs, corrects with its
  // own gentle rates.
  function check() {
    var p = q.player, st = s.state, errs = [];
    if (!p || !st || st.rate !== 1) return;
    (function read() {
      if (s.taken || q.taken || s.state !== st || !st.playing) return;
      try {
        if (p.getPlayerState() !== 1) return;
        errs.push(p.getCurrentTime() - target(st));
      } catch (e) { return; }
      if (errs.length < 3) { setTimeout(read, 20); return; }
      var err = Math.max.apply(null, errs);
      if (Math.abs(err) <= 0.025) return;
      var rates = (p.getAvailablePlaybackRates && p.getAvailablePlaybackRates()) || [];
      var rate = (err < 0 ? [2, 1.5, 1.25] : [0.5, 0.75]).filter(function (r) { return rates.indexOf(r) >= 0; })[0];
      if (!rate) return;
      setRate(p, rate);
      // The pulse ends on its time, or at once when the app takes over (`q.handover`); the
      // player is back at the rate it had (the room's: 1, checked above).
      var timer = setTimeout(function () { if (q.pulse) q.pulse(); }, Math.abs(err) / Math.abs(rate - 1) * 1000);
      q.pulse = function () {
        q.pulse = null;
        clearTimeout(timer);
        try { setRate(p, 1); } catch (e) { /* a player gone: nothing to restore */ }
      };
    })();
  }
  withBox(function (box) { frame(box); open(box); });
})();
