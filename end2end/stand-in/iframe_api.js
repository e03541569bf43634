/*
 * Stand-in for the YouTube IFrame Player API (https://www.youtube.com/iframe_api).
 *
 * Served by request interception in the end-to-end suite (see ./routes.js and ./README.md):
 * YouTube is unreachable in tests. It follows the documented IFrame API contract and the
 * behaviour of the real player that a sync client has to cope with (docs/test-hooks.md):
 *
 * - defines window.YT (YT.Player, YT.PlayerState, YT.loaded = 1, YT.ready) and then calls
 *   window.onYouTubeIframeAPIReady() asynchronously;
 * - new YT.Player(elementOrId, {videoId, width, height, host, playerVars, events}) replaces the
 *   element with an <iframe src="https://www.youtube.com/embed/ID?enablejsapi=1&...">; given
 *   such an iframe already in the page, it takes it over (video and player variables from its
 *   src), asks the embed until it answers, and is ready the ready delay after the embed's page
 *   loaded (its player code starts with its page); destroy() then removes the iframe;
 * - the player's functions exist from construction; before onReady they do nothing and the
 *   getters return the unstarted defaults (getDuration() 0, getCurrentTime() 0, state -1);
 * - events ({target, data}) are delivered asynchronously, in order, a few ms after the
 *   "iframe" changed state (they travel by postMessage in the real API);
 * - the media clock lives "in the iframe" and runs on performance.now() x rate x skew; the page
 *   side sees it as the real API does: getCurrentTime() is the last reported time, extrapolated
 *   with Date.now() at the nominal rate while the reported state is PLAYING; getPlayerState()
 *   is the last reported state;
 * - ready after a few hundred ms (state -1, or 5 after cueVideoById); BUFFERING for 80-300 ms
 *   before PLAYING from UNSTARTED/CUED/ENDED, for 30-45 ms (resumeMinMs/resumeMaxMs) when a
 *   paused player whose position is buffered resumes; BUFFERING after a seek while playing; no event at all for a seek while
 *   paused; seekTo while paused stays paused, from UNSTARTED/CUED/ENDED it starts playing;
 *   getDuration() is 0 until ready; ENDED at the end;
 * - setPlaybackRate(r) snaps to the nearest of getAvailablePlaybackRates() (ties towards 1) and
 *   fires onPlaybackRateChange only when the rate actually changes;
 * - autoplay blocking (config.blockAutoplay): without user activation in the page
 *   (navigator.userActivation.hasBeenActive false; under the suite: no trusted click, tap or
 *   key press seen by the init script of ./routes.js, which sets __ytTest.activated, because
 *   Playwright's page.evaluate itself grants activation), playVideo() (or seekTo from
 *   UNSTARTED/CUED) goes BUFFERING, then back to the state it had ~200 ms later, never PLAYING.
 *
 * Harder players, as configuration (issue 14; all off by default):
 * - availableRates: getAvailablePlaybackRates() and what setPlaybackRate snaps to, e.g. [1] for a
 *   rate-locked player (live streams, some embeds and mobile browsers);
 * - readingStepMs: getCurrentTime() moves in steps of this (floored), like a player that only
 *   reports the presented frame;
 * - readingJitterMs: every report from the iframe reaches the page late by a random 0..N ms (in
 *   order), and the page stamps it when it arrives, as the real widget API does: readings are
 *   up to N ms stale, by a varying amount (a busy phone);
 * - pausedSeekBuffers: a seek while paused goes BUFFERING, then PAUSED again after the buffer
 *   delay (playVideo() during it plays);
 * - slow buffering: bufferMinMs/bufferMaxMs (e.g. 200/900) after play and after seeks;
 * - rateEchoMs: onPlaybackRateChange reaches the page this many ms after the others (with the
 *   info it carried when sent): a rate change's echo that comes late.
 *
 * Test hooks (not part of the YouTube API) on window.__ytTest:
 * - config: set before load with page.addInitScript
 *   {readyDelayMs, blockAutoplay, duration, clockSkew, eventLatencyMs, infoIntervalMs,
 *    bufferMinMs, bufferMaxMs, resumeMinMs, resumeMaxMs, autoplayRevertMs, errors: {videoId: code}, durations: {videoId: s},
 *    playlists: {listId: [ids] | null},
 *    availableRates, readingStepMs, readingJitterMs, pausedSeekBuffers}
 * - players: one hook object per player created, in creation order:
 *   {player, videoId, ready, destroyed, createdAt, readyAt, runningAt, starts, userPlay(), userPause(),
 *    userSeek(s), stall(ms), setClockSkew(f), setDeviceClockSkew(f),
 *    truePosition() -> {position, at, state, running, rate, videoId}}
 *   setClockSkew(f) makes the media clock run f x real time; with real media it does so by the
 *   element's playbackRate (x f), which Chromium then advances in steps of ~9 ms.
 *   setDeviceClockSkew(f) is a device whose audio clock runs f x the system clock: the element
 *   plays at the player's rate and its clock reads f x as far from where it last moved to (a
 *   smooth skew); on the modelled player it is setClockSkew(f);
 *   where `at` is performance.now() of the reading and `rate` the effective media clock rate
 *   (playback rate x skew); createdAt / readyAt / runningAt are the performance.now() of the
 *   player's construction, of its onReady and of the first start of its media clock (the first
 *   frame; null until then);
 * - onRunning: a function set on window.__ytTest is called with the hook at that first start.
 *
 * Playlists (issue 28): cuePlaylist / loadPlaylist ({list, listType: 'playlist', index,
 * startSeconds}, or an array of video ids) read the list 80-300 ms later, then cue (or load)
 * its video at `index`; getPlaylist() is null until then, afterwards the ids in order;
 * getPlaylistIndex() the index. The stand-in's playlists (playlistOf below):
 * - config.playlists {listId: [ids] | null} first (null: unreadable);
 * - `PLstandin<N>_<tag>`: N videos (at most 500), ids `<tag, 6 chars, 0-padded>_<i, 4 digits>`
 *   (PLstandin3_abc: abc000_0000, abc000_0001, abc000_0002);
 * - `PLempty…`: a readable playlist without videos (getPlaylist() [], state CUED);
 * - any other list (e.g. `PLprivate…`) cannot be read: onError 100 and getPlaylist() stays null.
 */
(function () {
  'use strict';

  var w = window;
  var T = (w.__ytTest = w.__ytTest || {});
  var DEFAULTS = {
    readyDelayMs: 300,
    blockAutoplay: false,
    duration: 3600,
    clockSkew: 1,
    eventLatencyMs: 2,
    infoIntervalMs: 250,
    bufferMinMs: 80,
    bufferMaxMs: 300,
    resumeMinMs: 30,
    resumeMaxMs: 45,
    autoplayRevertMs: 200,
    errors: {},
    durations: {},
    playlists: {},
    availableRates: null,
    readingStepMs: 0,
    readingJitterMs: 0,
    pausedSeekBuffers: false,
    media: null,
    adPreroll: false,
    adMidrollAt: null,
    adLengthS: 15,
    adClock: 'ad',
    rateEchoMs: 0,
  };
  var cfg = {};
  Object.keys(DEFAULTS).forEach(function (k) {
    cfg[k] = T.config && T.config[k] !== undefined ? T.config[k] : DEFAULTS[k];
  });
  T.config = cfg;
  T.players = T.players || [];

  var State = { UNSTARTED: -1, ENDED: 0, PLAYING: 1, PAUSED: 2, BUFFERING: 3, CUED: 5 };
  var RATES =
    Array.isArray(cfg.availableRates) && cfg.availableRates.length > 0
      ? cfg.availableRates.map(Number).filter(finite).sort(function (a, b) {
          return a - b;
        })
      : [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2];
  var VIDEO_ID = /^[A-Za-z0-9_-]{11}$/;
  var widgetIds = 0;

  function now() {
    return performance.now();
  }
  function between(a, b) {
    return a + Math.random() * (b - a);
  }
  function finite(x) {
    return typeof x === 'number' && isFinite(x);
  }

  /** Snaps a suggested rate to the nearest available one (ties towards 1). */
  function snapRate(r) {
    var best = 1;
    var bestDist = Infinity;
    RATES.forEach(function (c) {
      var d = Math.abs(c - r);
      if (d < bestDist - 1e-9 || (Math.abs(d - bestDist) <= 1e-9 && Math.abs(c - 1) < Math.abs(best - 1))) {
        best = c;
        bestDist = d;
      }
    });
    return best;
  }

  /** The ids of playlist `list`, [] for an empty one, null for one that cannot be read. */
  function playlistOf(list) {
    list = String(list || '');
    if (cfg.playlists && Object.prototype.hasOwnProperty.call(cfg.playlists, list)) {
      return Array.isArray(cfg.playlists[list]) ? cfg.playlists[list].map(String) : null;
    }
    if (/^PLempty/.test(list)) return [];
    var made = /^PLstandin(\d+)_([A-Za-z0-9_-]+)$/.exec(list);
    if (!made) return null;
    var n = Math.min(500, Number(made[1]));
    var tag = (made[2] + '000000').slice(0, 6);
    var ids = [];
    for (var i = 0; i < n; i++) ids.push(tag + '_' + String(i).padStart(4, '0'));
    return ids;
  }

  function Player(elementOrId, options) {
    if (!(this instanceof Player)) {
      throw new TypeError("Class constructor Player cannot be invoked without 'new'");
    }
    var el = typeof elementOrId === 'string' ? document.getElementById(elementOrId) : elementOrId;
    if (!el || !el.parentNode) {
      throw new Error('YT.Player: no element ' + String(elementOrId) + ' in the document');
    }
    options = options || {};
    var vars = options.playerVars || {};
    // An existing embed (<iframe src=".../embed/ID?enablejsapi=1&...">): the API takes it over;
    // the video and the player variables are the iframe's, not the options'.
    var adopted = el.tagName === 'IFRAME';
    if (adopted) {
      var src = new URL(el.src, location.href);
      vars = {};
      src.searchParams.forEach(function (v, k) {
        vars[k] = v;
      });
      options = Object.assign({}, options, { videoId: decodeURIComponent(src.pathname.split('/').pop() || '') });
    }
    var self = this;
    var videoId = options.videoId !== undefined ? String(options.videoId) : '';
    var widgetId = ++widgetIds;
    var createdAt = now();

    // ---- the "iframe" side: the true media clock -------------------------------------------
    var m = {
      videoId: videoId,
      state: State.UNSTARTED,
      pos: 0, // position (s) at anchorAt
      anchorAt: now(),
      running: false, // the media clock advances (true only while PLAYING)
      rate: 1,
      skew: finite(cfg.clockSkew) && cfg.clockSkew > 0 ? cfg.clockSkew : 1,
      // Real media, setDeviceClockSkew: the position reads fromPos + (currentTime - fromVideo) x f.
      warp: null,
      duration: 0,
      ready: false,
      destroyed: false,
      muted: vars.mute === 1 || vars.mute === '1',
      volume: 100,
      stallUntil: 0,
      error: null,
      timers: { resume: null, end: null, revert: null, info: null, seekBuffer: null, midroll: null, ad: null },
      // The ad playing now (null: the content): {len (s), pos (ad clock at `at`), at, running}.
      ad: null,
      prerollDone: false,
      midrollDone: false,
      // The playlist read by cuePlaylist / loadPlaylist (null: none) and its index.
      playlist: null,
      playlistIndex: -1,
    };

    // ---- real media (config.media): the clock is a <video> decoding a real clip ------------
    // The element sits in this document (the app's CSP admits media from its own origin, where
    // the suite serves the clip), 4 px in a corner, so it is decoded and heard like a visible
    // player's; its currentTime is the true position and its play/pause/seek/rate are the
    // player's (BUFFERING lasts as long as the real pipeline needs).
    var video = null;
    if (typeof cfg.media === 'string' && cfg.media) {
      video = document.createElement('video');
      video.preload = 'auto';
      video.playsInline = true;
      video.setAttribute('data-standin-media', String(widgetId));
      var vs = video.style; // the CSSOM, which the page's style-src does not govern
      vs.position = 'fixed';
      vs.left = '0';
      vs.top = '0';
      vs.width = '4px';
      vs.height = '4px';
      vs.opacity = '0.01';
      vs.pointerEvents = 'none';
      video.src = cfg.media;
      document.body.appendChild(video);
    }

    // ---- the page side: what the API has been told so far ----------------------------------
    var api = {
      state: State.UNSTARTED,
      info: { pos: 0, wall: Date.now() / 1000, rate: 1, state: State.UNSTARTED },
      rate: 1,
      duration: 0,
    };

    var listeners = {};
    var handlers = options.events || {};

    function truePos(at) {
      var p = m.pos;
      if (video) {
        p = video.currentTime;
        if (m.warp) p = m.warp.fromPos + (p - m.warp.fromVideo) * m.warp.f;
      } else if (m.running) p += ((at - m.anchorAt) / 1000) * m.rate * m.skew;
      if (m.duration > 0 && p > m.duration) p = m.duration;
      return p < 0 ? 0 : p;
    }
    function rebase() {
      var t = now();
      m.pos = truePos(t);
      m.anchorAt = t;
    }
    /** Moves the media clock to `t` (s). */
    function setPos(t) {
      m.pos = t;
      m.anchorAt = now();
      if (video) {
        video.currentTime = t;
        if (m.warp) m.warp = { f: m.warp.f, fromPos: t, fromVideo: t };
      }
    }
    /** The media clock's rate: the player's rate x its skew (real media: as the element plays). */
    function clockRate() {
      if (!video) return m.rate * m.skew;
      return video.playbackRate * (m.warp ? m.warp.f : 1);
    }
    /** Stops the media clock where it is. */
    function halt() {
      rebase();
      m.running = false;
      if (video && !video.paused) video.pause();
    }
    function applyRate() {
      if (video) video.playbackRate = m.rate * m.skew;
    }
    /** The ad's own clock (s). */
    function adPos() {
      var a = m.ad;
      return a.pos + (a.running ? (now() - a.at) / 1000 : 0);
    }
    function clearTimer(name) {
      if (m.timers[name] !== null) {
        clearTimeout(m.timers[name]);
        m.timers[name] = null;
      }
    }

    // ---- ordered asynchronous delivery ("postMessage" from the iframe) ---------------------
    var queue = [];
    var draining = false;
    var jitter = finite(cfg.readingJitterMs) && cfg.readingJitterMs > 0 ? cfg.readingJitterMs : 0;
    var lastDue = 0;
    function post(msg) {
      if (m.destroyed) return;
      if (jitter > 0) {
        // Each message late by a random amount, still in order.
        var due = Math.max(lastDue, now() + cfg.eventLatencyMs + Math.random() * jitter);
        lastDue = due;
        setTimeout(function () {
          deliver(msg);
        }, due - now());
        return;
      }
      queue.push(msg);
      if (!draining) {
        draining = true;
        setTimeout(drain, cfg.eventLatencyMs);
      }
    }
    function drain() {
      draining = false;
      var batch = queue;
      queue = [];
      batch.forEach(deliver);
    }
    function deliver(msg) {
      if (m.destroyed) return;
      if (msg.info) {
        api.info = msg.info;
        // The real widget API stamps a report when it arrives: a late one reads stale.
        if (jitter > 0) api.info = Object.assign({}, msg.info, { wall: Date.now() / 1000 });
        api.duration = msg.info.duration;
      }
      if (msg.kind === 'info') return;
      if (msg.kind === 'onStateChange') api.state = msg.data;
      if (msg.kind === 'onPlaybackRateChange') api.rate = msg.data;
      fire(msg.kind, msg.data);
    }
    function fire(name, data) {
      var event = { target: self, data: data };
      var h = handlers[name];
      if (typeof h === 'string') h = w[h];
      if (typeof h === 'function') h.call(self, event);
      (listeners[name] || []).slice().forEach(function (fn) {
        if (typeof fn === 'string') fn = w[fn];
        if (typeof fn === 'function') fn.call(self, event);
      });
    }
    function snapshot() {
      // During an ad the player reports the ad: its length, and its clock or (adClock
      // 'content') the frozen content position.
      var ad = m.ad;
      return {
        pos: ad && cfg.adClock !== 'content' ? adPos() : truePos(now()),
        wall: Date.now() / 1000,
        rate: m.rate,
        state: m.state,
        duration: ad ? ad.len : m.ready ? m.duration : 0,
      };
    }
    function sendInfo() {
      post({ kind: 'info', info: snapshot() });
      showInFrame();
    }
    function setState(s) {
      if (m.state === s) return;
      m.state = s;
      post({ kind: 'onStateChange', data: s, info: snapshot() });
      showInFrame();
    }

    // ---- transitions of the true player ------------------------------------------------------
    function armEnd() {
      clearTimer('end');
      if (!m.running || m.duration <= 0) return;
      var left = ((m.duration - truePos(now())) / clockRate()) * 1000;
      m.timers.end = setTimeout(function () {
        m.timers.end = null;
        if (!m.running) return;
        if (truePos(now()) >= m.duration - 1e-6) {
          halt();
          setPos(m.duration);
          setState(State.ENDED);
        } else {
          armEnd();
        }
      }, Math.max(0, left));
    }
    function blocked() {
      if (!cfg.blockAutoplay) return false;
      // The suite's init script tracks trusted input itself (T.activated), because Playwright's
      // page.evaluate grants user activation in Chromium; elsewhere the browser's own flag.
      if (typeof T.activated === 'boolean') return !T.activated;
      var ua = navigator.userActivation;
      return !(ua && ua.hasBeenActive);
    }
    /** Leaves BUFFERING for PLAYING after the buffer delay (and any stall); with real media,
     * once the element plays and its clock has moved (the pipeline's own delay). */
    function scheduleResume(delayMs) {
      clearTimer('resume');
      var at = Math.max(now() + (video ? 0 : delayMs), m.stallUntil);
      m.timers.resume = setTimeout(function () {
        m.timers.resume = null;
        if (now() < m.stallUntil) {
          scheduleResume(0);
          return;
        }
        if (video) startMedia();
        else clockRuns();
      }, Math.max(0, at - now()));
    }
    /** The media clock runs: PLAYING. */
    function clockRuns() {
      m.anchorAt = now();
      m.running = true;
      hook.starts.push({ at: m.anchorAt, position: truePos(m.anchorAt), rate: clockRate() });
      if (hook.starts.length > 50) hook.starts.shift();
      if (hook.runningAt === null) {
        hook.runningAt = m.anchorAt;
        if (typeof T.onRunning === 'function') T.onRunning(hook);
      }
      setState(State.PLAYING);
      armEnd();
    }
    /** Real media: plays the element and reports PLAYING once its clock moves. */
    function startMedia() {
      var from = video.currentTime;
      applyRate();
      var p = video.play();
      if (p && typeof p.catch === 'function') p.catch(function () {});
      var poll = function () {
        m.timers.resume = null;
        if (m.destroyed) return;
        if (!video.paused && !video.seeking && video.readyState >= 3 && video.currentTime !== from) {
          clockRuns();
          return;
        }
        m.timers.resume = setTimeout(poll, 4);
      };
      m.timers.resume = setTimeout(poll, 4);
    }
    /** BUFFERING after a paused seek: PAUSED again after the buffer delay. */
    function pausedSeekBuffer() {
      clearTimer('seekBuffer');
      m.timers.seekBuffer = setTimeout(function () {
        m.timers.seekBuffer = null;
        if (m.state === State.BUFFERING) setState(State.PAUSED);
      }, bufferDelay());
    }
    function bufferDelay() {
      return between(cfg.bufferMinMs, cfg.bufferMaxMs);
    }
    /** Starts playback from a stopped state; `byUser` = a click inside the iframe. */
    function startPlay(byUser) {
      if (m.error !== null || !m.ready) return;
      if (m.state === State.PLAYING) return;
      if (m.timers.seekBuffer !== null) {
        // Buffering after a paused seek: play from here (or, blocked, fall back to PAUSED).
        clearTimer('seekBuffer');
        if (!byUser && blocked()) {
          m.timers.revert = setTimeout(function () {
            m.timers.revert = null;
            setState(State.PAUSED);
          }, cfg.autoplayRevertMs);
        } else {
          scheduleResume(bufferDelay());
        }
        return;
      }
      if (m.ad) {
        resumeAd();
        return;
      }
      if (m.state === State.BUFFERING && (m.timers.resume !== null || m.timers.revert !== null)) return;
      if (m.state === State.ENDED) setPos(0);
      if (!byUser && blocked()) {
        var back = m.state === State.ENDED ? State.PAUSED : m.state;
        setState(State.BUFFERING);
        m.timers.revert = setTimeout(function () {
          m.timers.revert = null;
          setState(back);
        }, cfg.autoplayRevertMs);
        return;
      }
      // A resume of a paused player whose position is buffered is quick and steady; a start
      // from UNSTARTED/CUED/ENDED loads first (the buffer delay).
      var resuming = m.state === State.PAUSED;
      setState(State.BUFFERING);
      if (cfg.adPreroll && !m.prerollDone) {
        // The video's first start shows the preroll instead (once per video).
        m.prerollDone = true;
        clearTimer('resume');
        m.timers.resume = setTimeout(function () {
          m.timers.resume = null;
          beginAd(cfg.adLengthS);
        }, bufferDelay());
        return;
      }
      scheduleResume(resuming ? between(cfg.resumeMinMs, cfg.resumeMaxMs) : bufferDelay());
    }
    function pause() {
      if (!m.ready || m.error !== null) return;
      if (m.ad) {
        pauseAd();
        return;
      }
      if (m.state === State.PLAYING || m.state === State.BUFFERING) {
        clearTimer('resume');
        clearTimer('revert');
        clearTimer('seekBuffer');
        clearTimer('end');
        halt();
        setState(State.PAUSED);
      }
    }

    // ---- ads (config.adPreroll / adMidrollAt / adLengthS / adClock, hook startAd) -----------
    // What developers report of the real embed (docs/test-hooks.md): PLAYING while the ad plays,
    // getDuration() the ad's length, getCurrentTime() the ad's clock (or, adClock 'content', the
    // frozen content position), seekTo and setPlaybackRate ignored; afterwards UNSTARTED, then
    // the content starts where it was.
    function beginAd(lengthS) {
      if (m.destroyed || m.ad) return;
      var len = finite(Number(lengthS)) && Number(lengthS) > 0 ? Number(lengthS) : 15;
      clearTimer('resume');
      clearTimer('end');
      clearTimer('seekBuffer');
      halt();
      m.ad = { len: len, pos: 0, at: now(), running: true };
      m.timers.ad = setTimeout(endAd, len * 1000);
      if (m.state !== State.PLAYING) setState(State.PLAYING);
      else sendInfo();
    }
    function pauseAd() {
      var a = m.ad;
      if (!a.running) return;
      a.pos = adPos();
      a.running = false;
      clearTimer('ad');
      setState(State.PAUSED);
    }
    function resumeAd() {
      var a = m.ad;
      if (a.running) return;
      a.at = now();
      a.running = true;
      m.timers.ad = setTimeout(endAd, Math.max(0, (a.len - a.pos) * 1000));
      setState(State.PLAYING);
    }
    function endAd() {
      m.timers.ad = null;
      if (m.destroyed || !m.ad) return;
      m.ad = null;
      setState(State.UNSTARTED);
      startPlay(true);
    }
    function checkMidroll() {
      if (m.ad || m.midrollDone || !m.running || !finite(cfg.adMidrollAt)) return;
      if (truePos(now()) >= cfg.adMidrollAt) {
        m.midrollDone = true;
        beginAd(cfg.adLengthS);
      }
    }
    function seek(seconds, byUser) {
      if (!m.ready || m.error !== null || m.ad) return;
      var t = Number(seconds);
      if (!isFinite(t)) return;
      t = Math.max(0, Math.min(t, m.duration));
      switch (m.state) {
        case State.PLAYING:
          clearTimer('end');
          m.running = false;
          setPos(t);
          setState(State.BUFFERING);
          scheduleResume(bufferDelay());
          break;
        case State.BUFFERING:
          setPos(t);
          if (m.timers.resume !== null) scheduleResume(bufferDelay());
          if (m.timers.seekBuffer !== null) pausedSeekBuffer();
          sendInfo();
          break;
        case State.PAUSED:
          // A seek while paused: the frame changes, no event at all (or, configured,
          // BUFFERING then PAUSED again).
          setPos(t);
          if (cfg.pausedSeekBuffers) {
            setState(State.BUFFERING);
            pausedSeekBuffer();
          } else {
            sendInfo();
          }
          break;
        default:
          // UNSTARTED, CUED, ENDED: seeking starts playback.
          setPos(t);
          if (m.state === State.ENDED) m.state = State.PAUSED;
          startPlay(byUser);
          break;
      }
    }
    function setRate(r) {
      if (!m.ready || m.ad) return;
      var snapped = snapRate(Number(r));
      if (!finite(Number(r)) || snapped === m.rate) return;
      rebase();
      m.rate = snapped;
      applyRate();
      armEnd();
      var echo = { kind: 'onPlaybackRateChange', data: snapped, info: snapshot() };
      // rateEchoMs: the event reaches the page this much later than the others.
      if (cfg.rateEchoMs > 0) setTimeout(function () { post(echo); }, cfg.rateEchoMs);
      else post(echo);
    }
    function durationOf(id) {
      var d = cfg.durations && cfg.durations[id];
      return finite(d) && d > 0 ? d : cfg.duration;
    }
    /** cuePlaylist / loadPlaylist: reads the list a moment later, then cues or loads its video. */
    function loadList(arg, index, startSeconds, play) {
      var ids;
      if (arg && typeof arg === 'object' && !Array.isArray(arg)) {
        index = arg.index;
        startSeconds = arg.startSeconds;
        ids = arg.listType === undefined || arg.listType === 'playlist' ? playlistOf(arg.list) : null;
      } else {
        ids = (Array.isArray(arg) ? arg : [arg]).map(String);
      }
      m.playlist = null;
      setTimeout(function () {
        if (m.destroyed) return;
        if (ids === null) {
          m.error = 100;
          post({ kind: 'onError', data: 100 });
          return;
        }
        m.playlist = ids.slice();
        m.playlistIndex = Math.max(0, Math.min(ids.length - 1, Math.floor(Number(index)) || 0));
        if (ids.length === 0) setState(State.CUED);
        else loadVideo(ids[m.playlistIndex], startSeconds, play);
      }, between(80, 300));
    }
    function loadVideo(idOrObj, startSeconds, play) {
      var id = idOrObj;
      var start = startSeconds;
      if (idOrObj && typeof idOrObj === 'object') {
        id = idOrObj.videoId;
        start = idOrObj.startSeconds;
      }
      clearTimer('resume');
      clearTimer('revert');
      clearTimer('end');
      clearTimer('seekBuffer');
      clearTimer('ad');
      m.ad = null;
      m.prerollDone = false;
      m.midrollDone = false;
      m.videoId = String(id);
      hook.videoId = m.videoId;
      halt();
      m.error = null;
      m.duration = durationOf(m.videoId);
      setPos(finite(Number(start)) ? Math.max(0, Math.min(Number(start), m.duration)) : 0);
      if (!checkVideo()) return;
      if (play) {
        m.state = State.CUED; // force the -1 event below
        setState(State.UNSTARTED);
        startPlay(false);
      } else {
        setState(State.CUED);
      }
    }
    /** Reports an invalid or unplayable video through onError; false when there is one. */
    function checkVideo() {
      var code = null;
      if (!VIDEO_ID.test(m.videoId)) code = 2;
      else if (cfg.errors && cfg.errors[m.videoId] !== undefined) code = cfg.errors[m.videoId];
      if (code === null) return true;
      m.error = code;
      post({ kind: 'onError', data: code });
      return false;
    }

    // ---- the frame --------------------------------------------------------------------------
    var iframe;
    var placeholder = null;
    if (adopted) {
      iframe = el;
    } else {
      var host = typeof options.host === 'string' && options.host ? options.host : 'https://www.youtube.com';
      var query = new URLSearchParams();
      query.set('enablejsapi', '1');
      Object.keys(vars).forEach(function (k) {
        if (k !== 'enablejsapi') query.set(k, String(vars[k]));
      });
      if (!query.has('origin')) query.set('origin', location.origin);
      query.set('widgetid', String(widgetId));
      iframe = document.createElement('iframe');
      if (el.id) iframe.id = el.id;
      iframe.setAttribute('frameborder', '0');
      iframe.setAttribute('allowfullscreen', '');
      iframe.setAttribute(
        'allow',
        'accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share'
      );
      iframe.setAttribute('referrerpolicy', 'strict-origin-when-cross-origin');
      iframe.title = 'YouTube video player';
      iframe.width = String(options.width !== undefined ? options.width : 640);
      iframe.height = String(options.height !== undefined ? options.height : 360);
      iframe.src = host + '/embed/' + encodeURIComponent(videoId) + '?' + query.toString();
      placeholder = el;
      el.parentNode.replaceChild(iframe, el);
    }

    function showInFrame() {
      if (!iframe.contentWindow) return;
      try {
        iframe.contentWindow.postMessage(
          { standIn: { videoId: m.videoId, state: m.state, position: truePos(now()), rate: m.rate } },
          '*'
        );
      } catch (e) {
        /* the frame is gone */
      }
    }

    function becomeReady() {
      if (m.destroyed || m.ready) return;
      if (video && video.readyState < 1) {
        // Real media: ready once the clip's metadata is in.
        video.addEventListener('loadedmetadata', becomeReady, { once: true });
        return;
      }
      m.ready = true;
      hook.ready = true;
      hook.readyAt = now();
      m.duration = durationOf(m.videoId);
      var start = Number(vars.start);
      setPos(finite(start) && start > 0 ? Math.min(start, m.duration) : 0);
      post({ kind: 'onReady', data: null, info: snapshot() });
      m.timers.info = setInterval(sendInfo, cfg.infoIntervalMs);
      if (finite(cfg.adMidrollAt)) m.timers.midroll = setInterval(checkMidroll, 20);
      // A player made without a video (e.g. only to cue a playlist) is ready with none, no error.
      if (m.videoId === '' || !checkVideo()) return;
      if (vars.autoplay === 1 || vars.autoplay === '1') startPlay(false);
    }
    var readyDelay = cfg.readyDelayMs * between(0.8, 1.2);
    if (adopted) {
      // The embed may have loaded long ago (its load event is gone): like the real API, ask it
      // until it answers; its player code started when its page loaded, so it is ready that long
      // after its load, not after this call (embed.html answers with its load time).
      var asking = setInterval(ask, 50);
      var answered = function (e) {
        if (e.source !== iframe.contentWindow || !e.data || !finite(e.data.standInLoadedAt)) return;
        w.removeEventListener('message', answered);
        clearInterval(asking);
        var loadedAt = e.data.standInLoadedAt - performance.timeOrigin;
        setTimeout(becomeReady, Math.max(0, loadedAt + readyDelay - now()));
      };
      w.addEventListener('message', answered);
      ask();
    } else {
      iframe.addEventListener('load', function onLoad() {
        iframe.removeEventListener('load', onLoad);
        setTimeout(becomeReady, readyDelay);
      });
    }
    function ask() {
      if (m.destroyed) {
        clearInterval(asking);
        return;
      }
      try {
        if (iframe.contentWindow) iframe.contentWindow.postMessage({ standInListening: widgetId }, '*');
      } catch (e) {
        /* not there yet */
      }
    }

    // ---- the public API ----------------------------------------------------------------------
    function installApi() {
      var f = {
        playVideo: function () {
          startPlay(false);
        },
        pauseVideo: function () {
          pause();
        },
        stopVideo: function () {
          clearTimer('resume');
          clearTimer('revert');
          clearTimer('seekBuffer');
          clearTimer('end');
          clearTimer('ad');
          m.ad = null;
          halt();
          setPos(0);
          setState(State.CUED);
        },
        seekTo: function (seconds /*, allowSeekAhead */) {
          seek(seconds, false);
        },
        getCurrentTime: function () {
          var i = api.info;
          var p = i.pos;
          if (api.state === State.PLAYING && i.state === State.PLAYING) {
            // As the real widget: extrapolated at the reported rate, by at most a second.
            p += Math.min(1, Math.max(0, Date.now() / 1000 - i.wall)) * i.rate;
          }
          // Extrapolation stops at the end (a report past the reported duration, as the frozen
          // content position during an ad can be, is returned as it is).
          if (api.duration > 0 && p > api.duration && i.pos <= api.duration) p = api.duration;
          var step = Number(cfg.readingStepMs) / 1000;
          if (step > 0) p = Math.floor(p / step + 1e-9) * step;
          return p;
        },
        getPlayerState: function () {
          return api.state;
        },
        getDuration: function () {
          return api.duration;
        },
        getPlaybackRate: function () {
          return api.rate;
        },
        setPlaybackRate: function (r) {
          setRate(r);
        },
        getAvailablePlaybackRates: function () {
          return RATES.slice();
        },
        getVideoLoadedFraction: function () {
          return m.duration > 0 ? Math.min(1, (truePos(now()) + 30) / m.duration) : 0;
        },
        getVideoUrl: function () {
          return 'https://www.youtube.com/watch?v=' + m.videoId;
        },
        getVideoData: function () {
          return { video_id: m.videoId, title: 'Stand-in video ' + m.videoId, author: 'stand-in' };
        },
        loadVideoById: function (idOrObj, startSeconds) {
          loadVideo(idOrObj, startSeconds, true);
        },
        cueVideoById: function (idOrObj, startSeconds) {
          loadVideo(idOrObj, startSeconds, false);
        },
        cuePlaylist: function (listOrObj, index, startSeconds) {
          loadList(listOrObj, index, startSeconds, false);
        },
        loadPlaylist: function (listOrObj, index, startSeconds) {
          loadList(listOrObj, index, startSeconds, true);
        },
        getPlaylist: function () {
          return m.playlist ? m.playlist.slice() : null;
        },
        getPlaylistIndex: function () {
          return m.playlist ? m.playlistIndex : -1;
        },
        mute: function () {
          m.muted = true;
        },
        unMute: function () {
          m.muted = false;
        },
        isMuted: function () {
          return m.muted;
        },
        setVolume: function (v) {
          m.volume = Math.max(0, Math.min(100, Number(v) || 0));
        },
        getVolume: function () {
          return m.volume;
        },
      };
      Object.keys(f).forEach(function (k) {
        self[k] = f[k];
      });
    }

    installApi();
    this.getIframe = function () {
      return iframe;
    };
    this.addEventListener = function (name, fn) {
      (listeners[name] = listeners[name] || []).push(fn);
    };
    this.removeEventListener = function (name, fn) {
      listeners[name] = (listeners[name] || []).filter(function (g) {
        return g !== fn;
      });
    };
    this.destroy = function () {
      if (m.destroyed) return;
      halt();
      m.destroyed = true;
      clearTimer('ad');
      if (m.timers.midroll !== null) clearInterval(m.timers.midroll);
      m.timers.midroll = null;
      if (video) {
        video.removeAttribute('src');
        video.load();
        video.remove();
      }
      hook.destroyed = true;
      clearTimer('resume');
      clearTimer('revert');
      clearTimer('seekBuffer');
      clearTimer('end');
      if (m.timers.info !== null) clearInterval(m.timers.info);
      m.timers.info = null;
      queue = [];
      if (iframe.parentNode) {
        if (placeholder) iframe.parentNode.replaceChild(placeholder, iframe);
        else iframe.parentNode.removeChild(iframe);
      }
    };

    // ---- test hooks --------------------------------------------------------------------------
    var hook = {
      player: self,
      videoId: m.videoId,
      ready: false,
      destroyed: false,
      /** performance.now() of the construction, of onReady, of the media clock's first start. */
      createdAt: createdAt,
      readyAt: null,
      runningAt: null,
      /** Every start of the media clock (the last 50): {at: performance.now(), position, rate}. */
      starts: [],
      /** A person clicks play inside the iframe (a user gesture there: never blocked). */
      userPlay: function () {
        startPlay(true);
      },
      /** A person clicks pause inside the iframe. */
      userPause: function () {
        pause();
      },
      /** A person drags the progress bar inside the iframe to `seconds`. */
      userSeek: function (seconds) {
        seek(seconds, true);
      },
      /** The network stalls for `ms`: a playing player freezes in BUFFERING, then resumes from
       * where it froze (so it is `ms` behind). A paused player stalls on its next play. */
      stall: function (ms) {
        if (m.ad) return;
        var until = now() + Math.max(0, Number(ms) || 0);
        m.stallUntil = Math.max(m.stallUntil, until);
        if (m.state === State.PLAYING) {
          clearTimer('end');
          halt();
          setState(State.BUFFERING);
          scheduleResume(0);
        } else if (m.state === State.BUFFERING && m.timers.resume !== null) {
          scheduleResume(0);
        }
      },
      /** Makes the media clock run `factor` times real time (1.01 = 1 % fast). */
      setClockSkew: function (factor) {
        var f = Number(factor);
        if (!finite(f) || f <= 0) throw new RangeError('clock skew must be a positive number');
        rebase();
        m.skew = f;
        applyRate();
        armEnd();
      },
      /** A device whose media clock runs `factor` times the system clock, smoothly (see above). */
      setDeviceClockSkew: function (factor) {
        var f = Number(factor);
        if (!finite(f) || f <= 0) throw new RangeError('clock skew must be a positive number');
        if (!video) {
          hook.setClockSkew(f);
          return;
        }
        m.warp = { f: f, fromPos: truePos(now()), fromVideo: video.currentTime };
        armEnd();
      },
      /** The page side's last report from the "iframe" ({pos, wall (s), rate, state}). */
      lastReport: function () {
        return api.info;
      },
      /** The true media position and the performance.now() it was read at. */
      truePosition: function () {
        var at = now();
        var running = m.running && (!video || (!video.paused && !video.seeking));
        return {
          position: truePos(at),
          at: at,
          state: m.state,
          running: running,
          rate: running ? clockRate() : 0,
          videoId: m.videoId,
          destroyed: m.destroyed,
          ad: m.ad !== null,
          media: video !== null,
        };
      },
      /** An ad starts now (a mid-roll on demand) for `lengthS` (default config.adLengthS). */
      startAd: function (lengthS) {
        if (m.state === State.PLAYING || m.state === State.BUFFERING) beginAd(lengthS || cfg.adLengthS);
      },
      /** Whether an ad is playing (or paused) now. */
      inAd: function () {
        return m.ad !== null;
      },
      /** The true player state (what the iframe shows, before any event reached the page). */
      trueState: function () {
        return m.state;
      },
    };
    T.players.push(hook);
  }

  var YT = {
    loading: 1,
    loaded: 1,
    PlayerState: State,
    Player: Player,
    ready: function (fn) {
      if (typeof fn !== 'function') return;
      setTimeout(fn, 0);
    },
    setConfig: function () {},
    get: function (id) {
      for (var i = 0; i < T.players.length; i++) {
        var ifr = T.players[i].player.getIframe();
        if (!T.players[i].destroyed && ifr && ifr.id === id) return T.players[i].player;
      }
      return null;
    },
  };
  w.YT = YT;
  w.YTConfig = w.YTConfig || { host: 'https://www.youtube.com' };
  setTimeout(function () {
    if (typeof w.onYouTubeIframeAPIReady === 'function') w.onYouTubeIframeAPIReady();
  }, 0);
})();
