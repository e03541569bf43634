(function () {
  // ---- The player: created as soon as the IFrame API and #player are there. ----
  var q = { player: null, frame: null, box: null, video: null, events: [], listener: null, taken: false, ready: false, driven: false };
  window.__wpEarlyPlayer = q;
  function emit(kind, data) {
    if (kind === 'ready') q.ready = true;
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
    // The app's player variables (`video::PLAYER_VARS`, the same test-checked list `client/yt.rs` uses).
    var vars = { enablejsapi: 1, controls: 1, playsinline: 1, rel: 0, origin: location.origin };
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
    var m = /^\/s\/([A-Za-z0-9]+)$/.exec(location.pathname);
    if (!box || !box.dataset.video || !m || !window.WebSocket || !window.crypto) return;
    var id = m[1], valid = /^[A-Za-z0-9_-]{16,64}$/, key;
    try {
      // The key the app would present (client/mod.rs `session_key`), made and kept the same way.
      var st = window.localStorage, h = /^#host=(.+)$/.exec(location.hash);
      if (h && valid.test(h[1])) st.setItem('wp.host.' + id, h[1]);
      key = st.getItem('wp.host.' + id);
      if (!valid.test(key || '')) key = st.getItem('wp.key');
      if (!valid.test(key || '')) {
        var b = new Uint8Array(16);
        crypto.getRandomValues(b);
        key = Array.prototype.map.call(b, function (x) { return (x < 16 ? '0' : '') + x.toString(16); }).join('');
        st.setItem('wp.key', key);
      }
      s.ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/' + id, ['wp1', 'k.' + key]);
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
      var rtt = (t - m.t0) - (m.t2 - m.t1);
      if (rtt >= -1) s.samples.push({ offset: ((m.t1 - m.t0) + (m.t2 - t)) / 2, rtt: Math.max(rtt, 0) });
    } else return;
    sync();
  }
  // The clock burst of sync/engine.rs (8 pings 100 ms apart).
  function ping() {
    if (s.taken || !s.ws || s.ws.readyState !== 1 || s.pings >= 8) return;
    s.pings++;
    s.ws.send(JSON.stringify({ type: 'ping', t0: now() }));
    setTimeout(ping, 100);
  }
  // Server minus client clock: the median offset of the three lowest round trips (sync/clock.rs).
  function offset() {
    var o = s.samples.slice().sort(function (x, y) { return x.rtt - y.rtt; }).slice(0, 3)
      .map(function (x) { return x.offset; }).sort(function (x, y) { return x - y; });
    return o.length % 2 ? o[(o.length - 1) / 2] : (o[o.length / 2 - 1] + o[o.length / 2]) / 2;
  }

  // ---- Sync before the app: the engine's join (sync/engine.rs `apply_state`), nothing more. ----
  function sync() {
    var p = q.player, st = s.state;
    if (s.taken || q.taken || !q.ready || !p || !st || !s.samples.length || st.video_id !== q.video) return;
    var rev = st.playback_revision || st.revision;
    if (rev === s.applied) return;
    var end = endOf(st);
    try {
      if (st.playing) {
        var at = target(st);
        if (at >= end - 0.05) return; // The end of the video: the app's business.
        q.driven = true;
        s.applied = rev;
        if (p.getPlaybackRate() !== st.rate) p.setPlaybackRate(st.rate);
        // Aimed ahead by the engine's first guess of the start latency (INITIAL_SEEK_LATENCY).
        p.seekTo(Math.min(at + 0.2 * st.rate, end), true);
        p.playVideo();
      } else if (s.applied !== null) {
        // Paused after this page set it playing. (A paused room is left alone: seeking a
        // player that never played would start it.)
        s.applied = rev;
        p.pauseVideo();
        p.seekTo(Math.min(st.position, end), true);
      }
    } catch (e) { /* The app applies the state when it comes. */ }
  }
  // The room's position now (s), on the measured server clock.
  function target(st) {
    var at = st.position;
    if (st.playing) at += Math.max(0, now() + offset() - st.updated_at) / 1000 * st.rate;
    return Math.min(at, endOf(st));
  }
  function endOf(st) { return st.duration == null ? Infinity : st.duration; }

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
      p.setPlaybackRate(rate);
      setTimeout(function () {
        // After the app took over, the rate is the engine's business.
        if (!s.taken && !q.taken) p.setPlaybackRate(s.state.rate);
      }, Math.abs(err) / Math.abs(rate - 1) * 1000);
    })();
  }
  withBox(function (box) { frame(box); open(box); });
})();
