// The demo page: the echo and clock cards, each speaking to one endpoint of the demo server with
// the browser's own WebSocket (the chat has its own page, chat.js). Plain ES module, no build
// step, no external resources.
// Every list on the page is capped, so a long-open tab does not grow without bound.

const RECONNECT_BASE_MS = 500;
const RECONNECT_CAP_MS = 15_000;
/** A connection open this long counts as healthy: the next drop starts the backoff afresh. */
const STABLE_AFTER_MS = 5_000;
const MAX_LOG_ENTRIES = 50;

/** ws:// or wss:// URL of an endpoint on the server that served this page. */
function endpointUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

/**
 * Keeps one WebSocket open, reconnecting after every drop with exponential backoff and full
 * jitter (a random delay up to min(cap, base·2^attempt)), so a restarted server is not hit
 * by every tab at the same instant.
 */
class ReconnectingSocket {
  #url;
  #handlers;
  #ws = null;
  #attempt = 0;
  #retryTimer = 0;
  #countdownTimer = 0;
  #stableTimer = 0;
  #running = false;

  /** `url` is a function so a reconnect can pick up changes. */
  constructor(url, handlers) {
    this.#url = url;
    this.#handlers = handlers;
    addEventListener('online', () => {
      if (this.#running && this.#ws === null) this.#connectNow();
    });
  }

  get isOpen() {
    return this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.stop();
    this.#running = true;
    this.#attempt = 0;
    this.#connectNow();
  }

  stop() {
    this.#running = false;
    this.#clearTimers();
    if (this.#ws !== null) {
      const ws = this.#ws;
      this.#ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      ws.close(1000);
    }
    this.#state('idle', 'not connected');
  }

  send(data) {
    if (!this.isOpen) return false;
    this.#ws.send(data);
    return true;
  }

  #connectNow() {
    this.#clearTimers();
    this.#state('connecting', 'connecting…');
    const ws = new WebSocket(this.#url());
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onopen = () => {
      this.#state('open', 'connected');
      this.#stableTimer = setTimeout(() => (this.#attempt = 0), STABLE_AFTER_MS);
      this.#handlers.onOpen?.();
    };
    ws.onmessage = (event) => this.#handlers.onMessage(event.data);
    // An error is always followed by close; the close handler does the work.
    ws.onerror = () => {};
    ws.onclose = (event) => {
      this.#ws = null;
      this.#handlers.onClose?.(event);
      if (this.#running) this.#retryLater();
    };
  }

  #retryLater() {
    this.#clearTimers();
    const ceiling = Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** this.#attempt);
    this.#attempt += 1;
    const due = Date.now() + Math.random() * ceiling;
    const showCountdown = () => {
      const seconds = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      this.#state('waiting', seconds > 0 ? `reconnecting in ${seconds} s` : 'reconnecting…');
    };
    showCountdown();
    this.#countdownTimer = setInterval(showCountdown, 250);
    this.#retryTimer = setTimeout(() => this.#connectNow(), due - Date.now());
  }

  #clearTimers() {
    clearTimeout(this.#retryTimer);
    clearInterval(this.#countdownTimer);
    clearTimeout(this.#stableTimer);
  }

  #state(state, text) {
    this.#handlers.onState?.(state, text);
  }
}

/** Shows a socket's state in a card's badge. */
function stateBadge(card) {
  const badge = card.querySelector('.state');
  return (state, text) => {
    badge.dataset.state = state;
    badge.textContent = text;
  };
}

/** Appends an item to a list, dropping the oldest beyond `max`; keeps the view pinned to the bottom if it was. */
function appendCapped(list, item, max) {
  const pinned = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  while (list.childElementCount > max) list.firstElementChild.remove();
  if (pinned) list.scrollTop = list.scrollHeight;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describeBinary(buffer) {
  const bytes = new Uint8Array(buffer);
  const hex = Array.from(bytes.subarray(0, 16), (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  return `[binary ${bytes.length} bytes] ${hex}${bytes.length > 16 ? ' …' : ''}`;
}

function setupEcho(card) {
  const form = card.querySelector('form');
  const button = form.querySelector('button');
  const log = card.querySelector('.log');
  // Send times of messages not yet echoed; the echo keeps order, so the oldest matches the next reply.
  let pending = [];

  const show = (direction, text, detail = '') => {
    const item = element('li', `log-${direction}`);
    item.append(element('span', 'arrow', direction === 'out' ? '→' : '←'), element('span', 'text', text));
    if (detail) item.append(element('span', 'detail', detail));
    appendCapped(log, item, MAX_LOG_ENTRIES);
  };

  const socket = new ReconnectingSocket(() => endpointUrl('/echo'), {
    onState: (state, text) => {
      stateBadge(card)(state, text);
      button.disabled = state !== 'open';
    },
    onOpen: () => (pending = []),
    onMessage: (data) => {
      const sentAt = pending.shift();
      const rtt = sentAt === undefined ? '' : `${(performance.now() - sentAt).toFixed(1)} ms`;
      show('in', typeof data === 'string' ? data : describeBinary(data), rtt);
    },
  });

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = form.elements.text.value;
    const data = form.elements.binary.checked ? new TextEncoder().encode(text).buffer : text;
    if (!socket.send(data)) return;
    pending.push(performance.now());
    show('out', typeof data === 'string' ? text : describeBinary(data));
    form.elements.text.value = '';
  });
  socket.start();
}

function setupClock(card) {
  const time = card.querySelector('.clock-time');
  const date = card.querySelector('.clock-date');
  const iso = card.querySelector('.clock-iso');
  const offset = card.querySelector('.clock-offset');
  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
  let staleTimer = 0;

  const socket = new ReconnectingSocket(() => endpointUrl('/clock'), {
    onState: stateBadge(card),
    onMessage: (data) => {
      const serverTime = new Date(String(data));
      if (Number.isNaN(serverTime.getTime())) return;
      time.textContent = timeFormat.format(serverTime);
      time.dateTime = serverTime.toISOString();
      date.textContent = dateFormat.format(serverTime);
      iso.textContent = String(data);
      // Includes the network delay, so it is an upper bound of the clock difference.
      const skewMs = serverTime.getTime() - Date.now();
      offset.textContent = `server − this browser: ${skewMs >= 0 ? '+' : '−'}${Math.abs(skewMs)} ms`;
      card.classList.remove('stale');
      clearTimeout(staleTimer);
      staleTimer = setTimeout(() => card.classList.add('stale'), 2_500);
    },
  });
  socket.start();
}

setupEcho(document.getElementById('echo'));
setupClock(document.getElementById('clock'));
