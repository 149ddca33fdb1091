// The studio's synchronized review player: one transport drives every cell.
//
// An ES module for st.components.v2 (no build step): Streamlit calls the default export with
// {data, parentElement, setStateValue, setTriggerValue} on mount and again whenever `data`
// changes; the share pages call it the same way from share_boot.js. One player instance lives on
// its parentElement, so a new call updates it (labels, markers, a seek from Python) and rebuilds
// it only when the clips change.
//
// Alignment (team-and-scale.md §1): the leader is the soloed cell, else the longest clip. After a
// seek, a frame step or a pause every cell is set to the same time exactly. While playing, every
// frame the leader presents (requestVideoFrameCallback; its mediaTime drives the loop) corrects
// each follower against the leader's clock: a new drift under DRIFT_IGNORE_S is left alone; up to
// DRIFT_RESEEK_S its playbackRate is nudged by 2–8 % until it is within DRIFT_SETTLED_S; beyond
// that it is re-seeked (at most once per RESEEK_COOLDOWN_MS).

const FPS = 24;
const FRAME_S = 1 / FPS;
const DRIFT_IGNORE_S = 0.05;
const DRIFT_RESEEK_S = 0.25;
const DRIFT_SETTLED_S = 0.015; // a follower being nudged is nudged until this close
const NUDGE_MIN = 0.02; // playbackRate ± 2 % ...
const NUDGE_MAX = 0.08; // ... to ± 8 % while a follower catches up
const CATCH_UP_S = 1.5;
const RESEEK_COOLDOWN_MS = 600; // a seek takes time to land: do not pile them up
const SEEK_LEAD_S = 0.08; // first guess of how late a seek while playing lands ...
const SEEK_LEAD_MAX_S = 0.4; // ... learned from each one, within reason
const POSITION_DEBOUNCE_MS = 250;
const START_WAIT_MS = 1500; // play waits at most this long for every cell to be ready
const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const GAP_PX = 6;
const LABEL_PX = 22;
const TRANSPORT_PX = 52;
const MAX_CELL_PX = { dense: 420, roomy: 360 };

const registry = (window.__studioPlayers = window.__studioPlayers || {});

function fmtTime(t) {
  if (!isFinite(t)) t = 0;
  const m = Math.floor(t / 60);
  const s = t - m * 60;
  return `${m}:${s.toFixed(2).padStart(5, "0")}`;
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(cls, text, title) {
  const b = el("button", `sp-btn ${cls}`, text);
  b.type = "button";
  b.title = title;
  b.setAttribute("aria-label", title);
  return b;
}

// Assign only a change: Chromium resets part of its pipeline on every assignment, same value or not.
function setRate(video, rate) {
  if (Math.abs(video.playbackRate - rate) > 1e-6) video.playbackRate = rate;
}

// Resolves once the video can play from where it is (its seek done), or after `ms` regardless.
function ready(video, ms) {
  if (!video.seeking && video.readyState >= 3) return Promise.resolve();
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      video.removeEventListener("canplay", check);
      video.removeEventListener("seeked", check);
      done();
    };
    const check = () => {
      if (!video.seeking && video.readyState >= 3) finish();
    };
    const timer = setTimeout(finish, ms);
    video.addEventListener("canplay", check);
    video.addEventListener("seeked", check);
  });
}

function clipsSignature(data) {
  return JSON.stringify((data.clips || []).map((c) => [c.id, c.url]));
}

class SyncPlayer {
  constructor(host, data, setStateValue, setTriggerValue) {
    this.host = host;
    this.setStateValue = setStateValue || (() => {});
    this.setTriggerValue = setTriggerValue || (() => {});
    this.signature = clipsSignature(data);
    this.key = data.key || `player-${Object.keys(registry).length + 1}`;
    this.clips = data.clips || [];
    this.dense = !!data.dense;
    this.noDownload = data.download === false;
    this.markable = data.markable !== false;
    this.markers = [];
    this.solo = null;
    this.rate = 1;
    this.loopIn = null;
    this.loopOut = null;
    this.playing = false;
    this.lastSeekSeq = null;
    this.reseekAt = new Map();
    this.nudging = new Set();
    this.seekLead = SEEK_LEAD_S;
    this.drifts = []; // |follower - leader| samples in seconds, for the bench
    this.positionTimer = null;
    this.disposed = false;
    this.build();
    this.update(data);
    registry[this.key] = this;
  }

  // ------------------------------------------------------------------ DOM

  build() {
    const root = (this.root = el("div", "sp-root"));
    root.tabIndex = 0;
    root.dataset.player = this.key;
    root.dataset.cells = String(this.clips.length);
    if (this.dense) root.classList.add("sp-dense");
    const grid = (this.grid = el("div", "sp-grid"));
    this.cells = this.clips.map((clip, i) => {
      const cell = el("div", "sp-cell");
      cell.dataset.index = String(i);
      cell.dataset.clip = clip.id;
      const frame = el("div", "sp-frame");
      const video = el("video", "sp-video");
      video.preload = "auto";
      video.muted = true;
      video.playsInline = true;
      video.src = clip.url;
      if (clip.poster) video.poster = clip.poster;
      video.dataset.clip = clip.id;
      if (this.noDownload) {
        video.setAttribute("controlslist", "nodownload");
        video.addEventListener("contextmenu", (e) => e.preventDefault()); // no "Save video as…"
      }
      frame.appendChild(video);
      const badge = el("span", "sp-solo-badge", "🔊");
      frame.appendChild(badge);
      const label = el("div", "sp-label");
      const num = el("span", "sp-num", i < 9 ? String(i + 1) : "");
      const text = el("span", "sp-label-text", clip.label || "");
      label.append(num, text);
      cell.append(frame, label);
      cell.addEventListener("click", () => this.toggleSolo(i));
      video.addEventListener("loadedmetadata", () => this.layout());
      video.addEventListener("ended", () => this.onEnded(video));
      grid.appendChild(cell);
      return { cell, frame, video, label: text, clip };
    });
    this.videos = this.cells.map((c) => c.video);

    const bar = (this.bar = el("div", "sp-transport"));
    this.playBtn = button("sp-play", "▶", "Play / pause (space)");
    this.backBtn = button("sp-back", "⏮", "One frame back (←)");
    this.fwdBtn = button("sp-fwd", "⏭", "One frame forward (→)");
    this.inBtn = button("sp-in", "[", "Loop from here ([)");
    this.outBtn = button("sp-out", "]", "Loop to here (])");
    this.clearLoopBtn = button("sp-noloop", "⟲ off", "Clear the loop");
    this.markBtn = button("sp-mark", "◆ Mark", "Mark this moment (M)");
    if (!this.markable) this.markBtn.style.display = "none"; // a read-only page: a mark would go nowhere
    this.fullBtn = button("sp-full", "Full screen", "Full screen (F)");
    this.speed = el("select", "sp-speed");
    this.speed.title = "Speed";
    this.speed.setAttribute("aria-label", "Speed");
    for (const s of SPEEDS) {
      const o = el("option", "", `${s}×`);
      o.value = String(s);
      if (s === 1) o.selected = true;
      this.speed.appendChild(o);
    }
    const scrub = (this.scrubWrap = el("div", "sp-scrub"));
    this.range = el("input", "sp-range");
    this.range.type = "range";
    this.range.min = "0";
    this.range.max = "1";
    this.range.step = "any";
    this.range.value = "0";
    this.range.setAttribute("aria-label", "Position");
    this.loopBand = el("div", "sp-loop-band");
    this.markerLayer = el("div", "sp-markers");
    scrub.append(this.loopBand, this.range, this.markerLayer);
    this.clock = el("span", "sp-clock", "0:00.00");
    bar.append(
      this.playBtn, this.backBtn, this.fwdBtn, scrub, this.clock,
      this.inBtn, this.outBtn, this.clearLoopBtn, this.speed, this.markBtn, this.fullBtn,
    );
    root.append(grid, bar);
    this.host.appendChild(root);

    const stop = (e) => e.stopPropagation();
    bar.addEventListener("click", stop);
    this.playBtn.addEventListener("click", () => this.toggle());
    this.backBtn.addEventListener("click", () => this.step(-1));
    this.fwdBtn.addEventListener("click", () => this.step(1));
    this.inBtn.addEventListener("click", () => this.setLoop("in"));
    this.outBtn.addEventListener("click", () => this.setLoop("out"));
    this.clearLoopBtn.addEventListener("click", () => this.setLoop(null));
    this.markBtn.addEventListener("click", () => this.mark());
    this.fullBtn.addEventListener("click", () => this.fullscreen());
    this.speed.addEventListener("change", () => this.setRate(Number(this.speed.value)));
    this.range.addEventListener("input", () => this.seek(Number(this.range.value)));
    this.onKey = (e) => this.key_(e);
    root.addEventListener("keydown", this.onKey);
    root.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
    this.onFullscreen = () => {
      root.classList.toggle("sp-is-full", this.isFull());
      root.dataset.full = String(this.isFull());
      this.layout();
    };
    document.addEventListener("fullscreenchange", this.onFullscreen);
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(root);
    this.onWindowResize = () => this.layout();
    window.addEventListener("resize", this.onWindowResize);
    this.tick = () => {
      if (this.disposed) return;
      this.paint();
      this.raf = requestAnimationFrame(this.tick);
    };
    this.raf = requestAnimationFrame(this.tick);
    this.paintSolo();
  }

  update(data) {
    this.markers = data.markers || [];
    (data.clips || []).forEach((clip, i) => {
      if (this.cells[i]) this.cells[i].label.textContent = clip.label || "";
    });
    this.drawMarkers();
    const seek = data.seek || {};
    if (seek.seq !== undefined && seek.seq !== this.lastSeekSeq) {
      const first = this.lastSeekSeq === null;
      this.lastSeekSeq = seek.seq;
      if (seek.to !== null && seek.to !== undefined && !(first && seek.seq === 0)) this.seek(Number(seek.to));
    }
  }

  // Cells share one height: every row fits the width, and (dense or full screen) all rows fit
  // the screen, so a 3 × 3 comparison is whole on a 1440 × 900 display.
  layout() {
    const n = this.cells.length;
    if (!n) return;
    const full = this.isFull();
    const width = (full ? window.innerWidth : this.root.clientWidth) - 2;
    if (width <= 0) return;
    const cols = n <= 3 ? n : n === 4 ? 2 : 3;
    const rows = Math.ceil(n / cols);
    const ratios = this.cells.map(({ video, clip }) => {
      const w = video.videoWidth || clip.width || 16;
      const h = video.videoHeight || clip.height || 9;
      return w / h;
    });
    let h = full || this.dense ? Infinity : MAX_CELL_PX.roomy;
    for (let r = 0; r < rows; r++) {
      const row = ratios.slice(r * cols, r * cols + cols);
      const sum = row.reduce((a, b) => a + b, 0);
      h = Math.min(h, (width - GAP_PX * (row.length - 1)) / sum);
    }
    if (full || this.dense) {
      const screen = full ? window.innerHeight : Math.min(window.innerHeight, window.screen?.height || Infinity);
      const chrome = TRANSPORT_PX + rows * (LABEL_PX + GAP_PX) + (full ? 8 : 24);
      h = Math.min(h, (screen - chrome) / rows);
      if (!full) h = Math.min(h, MAX_CELL_PX.dense);
    }
    h = Math.max(60, Math.floor(h));
    this.grid.style.gridTemplateColumns = `repeat(${cols}, auto)`;
    this.cells.forEach(({ frame }, i) => {
      frame.style.height = `${h}px`;
      frame.style.width = `${Math.floor(h * ratios[i])}px`;
    });
    this.root.dataset.cellHeight = String(h);
  }

  drawMarkers() {
    this.markerLayer.replaceChildren();
    const total = this.duration();
    if (!total) return;
    for (const m of this.markers) {
      const tick = button("sp-marker", "", `${fmtTime(m.at)} · ${m.label || "comment"}`);
      tick.style.left = `${Math.min(100, (100 * m.at) / total)}%`;
      tick.dataset.at = String(m.at);
      tick.addEventListener("click", (e) => {
        e.stopPropagation();
        this.seek(m.at);
      });
      this.markerLayer.appendChild(tick);
    }
  }

  paint() {
    const t = this.time();
    const total = this.duration();
    if (total && Number(this.range.max) !== total) {
      this.range.max = String(total);
      this.drawMarkers();
      this.paintLoop();
    }
    if (document.activeElement !== this.range || !this.range.matches(":active")) this.range.value = String(t);
    this.clock.textContent = `${fmtTime(t)} / ${fmtTime(total)}`;
    this.playBtn.textContent = this.playing ? "⏸" : "▶";
    this.root.dataset.playing = String(this.playing);
    this.root.dataset.position = t.toFixed(3);
  }

  paintLoop() {
    const total = this.duration();
    const on = this.loopIn !== null && this.loopOut !== null && total;
    this.loopBand.style.display = on ? "block" : "none";
    this.clearLoopBtn.disabled = this.loopIn === null && this.loopOut === null;
    this.root.dataset.loop = on ? `${this.loopIn.toFixed(3)}-${this.loopOut.toFixed(3)}` : "";
    if (!on) return;
    this.loopBand.style.left = `${(100 * this.loopIn) / total}%`;
    this.loopBand.style.width = `${(100 * (this.loopOut - this.loopIn)) / total}%`;
  }

  paintSolo() {
    this.cells.forEach(({ cell, video }, i) => {
      const on = this.solo === i;
      video.muted = !on;
      cell.classList.toggle("sp-soloed", on);
      cell.title = on ? "Hearing this one: click to mute" : "Click to hear only this one";
    });
    this.root.dataset.solo = this.solo === null ? "" : String(this.solo);
  }

  // ------------------------------------------------------------------ clock

  duration() {
    return Math.max(0, ...this.cells.map(({ video, clip }) => (isFinite(video.duration) ? video.duration : clip.duration || 0)));
  }

  leader() {
    if (this.solo !== null) return this.videos[this.solo];
    let best = this.videos[0];
    for (const v of this.videos) if ((v.duration || 0) > (best.duration || 0)) best = v;
    return best;
  }

  time() {
    const lead = this.leader();
    return lead ? lead.currentTime : 0;
  }

  times() {
    return this.videos.map((v) => v.currentTime);
  }

  // Every cell to `t` exactly (clamped to each clip's own length).
  setAll(t) {
    for (const v of this.videos) {
      const end = isFinite(v.duration) ? v.duration : Infinity;
      v.currentTime = Math.max(0, Math.min(t, end));
    }
  }

  seek(t) {
    const total = this.duration() || Infinity;
    t = Math.max(0, Math.min(Number(t) || 0, total));
    this.setAll(t);
    if (this.playing) this.resetRates();
    this.paint();
    this.reportPosition();
  }

  step(dir) {
    if (this.playing) this.pause(false);
    const t = Math.round(this.time() * FPS) / FPS + dir * FRAME_S;
    this.seek(t);
  }

  async play() {
    if (!this.videos.length) return;
    const lead = this.leader();
    if (lead.ended || lead.currentTime >= (lead.duration || Infinity) - FRAME_S) this.setAll(this.loopIn ?? 0);
    else this.setAll(lead.currentTime);
    this.playing = true;
    this.resetRates();
    this.root.classList.add("sp-playing");
    // Start together: every cell has its frame at the start time before any of them plays.
    await Promise.all(this.videos.map((v) => ready(v, START_WAIT_MS)));
    if (!this.playing) return;
    await Promise.all(this.videos.map((v) => (v.ended ? null : v.play().catch(() => null))));
    this.followLeader();
  }

  pause(report = true) {
    this.playing = false;
    this.root.classList.remove("sp-playing");
    for (const v of this.videos) v.pause();
    this.setAll(this.time());
    this.resetRates();
    this.paint();
    if (report) this.reportPosition(true);
  }

  toggle() {
    if (this.playing) this.pause();
    else this.play();
  }

  setRate(rate) {
    this.rate = rate;
    this.speed.value = String(rate);
    this.resetRates();
  }

  resetRates() {
    this.nudging.clear();
    for (const v of this.videos) setRate(v, this.rate);
  }

  onEnded(video) {
    if (!this.playing || video !== this.leader()) return;
    if (this.loopIn !== null && this.loopOut !== null) {
      this.seek(this.loopIn);
      this.play();
      return;
    }
    this.pause();
  }

  // The leader's clock drives the followers: called on every frame the leader presents.
  followLeader() {
    const lead = this.leader();
    if (!lead.requestVideoFrameCallback) return;
    const onLeaderFrame = (now, meta) => {
      if (this.disposed || !this.playing || lead !== this.leader()) return;
      this.correct(lead, meta.mediaTime, now);
      lead.requestVideoFrameCallback(onLeaderFrame);
    };
    lead.requestVideoFrameCallback(onLeaderFrame);
  }

  correct(lead, leadTime, now) {
    if (this.loopIn !== null && this.loopOut !== null && leadTime >= this.loopOut) {
      this.setAll(this.loopIn);
      return;
    }
    for (const v of this.videos) {
      if (v === lead) continue;
      const end = isFinite(v.duration) ? v.duration : Infinity;
      if (v.ended || leadTime >= end) continue;
      if (v.paused) v.play().catch(() => null);
      // Both positions read now, on the leader's frame: comparing a follower's currentTime with
      // the leader's mediaTime instead measured 20–80 ms worse (bench/player_drift.py).
      const drift = v.currentTime - lead.currentTime;
      const size = Math.abs(drift);
      this.drifts.push(size);
      if (this.drifts.length > 20000) this.drifts.splice(0, 10000);
      const nudging = this.nudging.has(v);
      if (size < (nudging ? DRIFT_SETTLED_S : DRIFT_IGNORE_S)) {
        this.nudging.delete(v);
        setRate(v, this.rate);
      } else if (size < DRIFT_RESEEK_S) {
        // A few percent, more the further off: caught up within about CATCH_UP_S.
        this.nudging.add(v);
        const nudge = Math.min(NUDGE_MAX, Math.max(NUDGE_MIN, size / CATCH_UP_S));
        setRate(v, this.rate * (1 - Math.sign(drift) * nudge));
      } else {
        const last = this.reseekAt.get(v) || 0;
        if (now - last > RESEEK_COOLDOWN_MS) {
          this.reseekAt.set(v, now);
          this.nudging.delete(v);
          setRate(v, this.rate);
          // A seek while playing lands late by about the time it takes: aim that far ahead, and
          // learn the lead from where the last one landed.
          v.currentTime = Math.min(end, lead.currentTime + this.seekLead * this.rate);
          v.addEventListener(
            "seeked",
            () => {
              if (!this.playing) return;
              const landed = v.currentTime - this.leader().currentTime;
              this.seekLead = Math.min(SEEK_LEAD_MAX_S, Math.max(0, this.seekLead - landed / 2));
            },
            { once: true },
          );
        }
      }
    }
  }

  // ------------------------------------------------------------------ actions

  toggleSolo(i) {
    if (i >= this.cells.length) return;
    const wasPlaying = this.playing;
    const t = this.time();
    this.solo = this.solo === i ? null : i;
    this.paintSolo();
    if (wasPlaying) {
      this.setAll(t);
      this.followLeader();
    }
  }

  setLoop(which) {
    const t = this.time();
    if (which === null) {
      this.loopIn = this.loopOut = null;
    } else if (which === "in") {
      this.loopIn = t;
      if (this.loopOut === null || this.loopOut <= t) this.loopOut = this.duration();
    } else {
      this.loopOut = t;
      if (this.loopIn === null || this.loopIn >= t) this.loopIn = 0;
    }
    this.paintLoop();
  }

  mark() {
    if (!this.markable) return;
    const t = Math.round(this.time() * 1000) / 1000;
    this.root.dataset.marked = String(t);
    this.setTriggerValue("marked", t);
  }

  // Inside Streamlit's shadow root the document only sees the host: ask the root's own tree.
  isFull() {
    return this.root.getRootNode().fullscreenElement === this.root;
  }

  fullscreen() {
    if (this.isFull()) document.exitFullscreen?.();
    else this.root.requestFullscreen?.().catch(() => null);
  }

  reportPosition(now = false) {
    clearTimeout(this.positionTimer);
    const send = () => this.setStateValue("position", Math.round(this.time() * 1000) / 1000);
    if (now) send();
    else this.positionTimer = setTimeout(send, POSITION_DEBOUNCE_MS);
  }

  key_(e) {
    if (e.target && e.target.tagName === "SELECT") return;
    const k = e.key;
    const handled = {
      " ": () => this.toggle(),
      ArrowLeft: () => this.step(-1),
      ArrowRight: () => this.step(1),
      "[": () => this.setLoop("in"),
      "]": () => this.setLoop("out"),
      m: () => this.mark(),
      M: () => this.mark(),
      f: () => this.fullscreen(),
      F: () => this.fullscreen(),
    }[k];
    if (handled) handled();
    else if (/^[1-9]$/.test(k)) this.toggleSolo(Number(k) - 1);
    else return;
    e.preventDefault();
    e.stopPropagation();
  }

  destroy() {
    this.disposed = true;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.positionTimer);
    this.resize.disconnect();
    window.removeEventListener("resize", this.onWindowResize);
    document.removeEventListener("fullscreenchange", this.onFullscreen);
    for (const v of this.videos) {
      v.pause();
      v.removeAttribute("src");
      v.load();
    }
    this.root.remove();
    if (registry[this.key] === this) delete registry[this.key];
  }
}

export default function syncPlayer(component) {
  const { data, parentElement, setStateValue, setTriggerValue } = component;
  const host = parentElement;
  const current = host.__studioPlayer;
  if (current && current.signature === clipsSignature(data || {})) {
    current.setStateValue = setStateValue || current.setStateValue;
    current.setTriggerValue = setTriggerValue || current.setTriggerValue;
    current.update(data || {});
  } else {
    if (current) current.destroy();
    host.__studioPlayer = new SyncPlayer(host, data || {}, setStateValue, setTriggerValue);
  }
  const player = host.__studioPlayer;
  return () => {
    if (host.__studioPlayer === player) {
      player.destroy();
      host.__studioPlayer = undefined;
    }
  };
}
