// The chat page, on tidewire's messaging layer (RealtimeClient from the browser bundle): rooms are
// channels `room:<name>`, presence lists who is in the room, the last messages come from the
// server's `room.history` up to the position the subscription started at (so nothing falls between
// history and live), and messages written offline wait in the client's queue, shown as pending,
// until the server acknowledges them. Plain ES module, no build step, no external resources.
//
// Query parameters: `name` (nickname), `room` (or `#room`), `realtime` (the WebSocket URL, default
// this server's /realtime).

import { RealtimeClient } from '/tidewire-realtime.js';

const DEFAULT_ROOM = 'lobby';
const HISTORY_LIMIT = 50;
/** Messages kept on the page per room; older ones leave the top. */
const MAX_MESSAGES = 500;
/** The client's offline queue bound (the server's rate limit has room for flushing all of it at once). */
const MAX_UNSENT = 100;
/** Messages by the same person this close together share one header. */
const GROUP_WITHIN_MS = 5 * 60_000;
const ROOM_LIST_REFRESH_MS = 15_000;
const NAME_KEY = 'tidewire.chat.name';
const ROOMS_KEY = 'tidewire.chat.rooms';

const params = new URLSearchParams(location.search);
const REALTIME_URL = params.get('realtime') || `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/realtime`;

const $ = (selector) => document.querySelector(selector);
const ui = {
  badge: $('.badge'),
  me: $('.me'),
  meName: $('.me-name'),
  meAvatar: $('.me .avatar'),
  rename: $('.rename'),
  roomList: $('.room-list'),
  newRoom: $('.new-room'),
  roomName: $('.room-name'),
  roomOnline: $('.room-online'),
  banner: $('.banner'),
  bannerText: $('.banner-text'),
  messages: $('.messages'),
  composer: $('.composer'),
  hint: $('.composer-hint'),
  presence: $('.presence'),
  nameDialog: $('.name-dialog'),
  nameForm: $('.name-dialog form'),
  nameError: $('.name-error'),
};

const chat = {
  /** The nickname asked for (the handshake token). */
  name: '',
  /** The nickname the server gave us (chat.whoami), '' until the first connection. */
  me: '',
  client: null,
  room: '',
  subscription: null,
  /** The room channel's epoch of the current subscription (null until its first `subscribed`). */
  epoch: null,
  historyLoaded: false,
  /** Bumped on every room change and history load: late answers for an old one are dropped. */
  generation: 0,
  /** Offset → element of the messages on the page (current room). */
  confirmed: new Map(),
  /** Id → { room, item } of our own messages not yet placed at their offset (pending, or acked elsewhere). */
  own: new Map(),
  /** clientId → name of the people in the room. */
  members: new Map(),
  /** Room → head count from the last room.list. */
  roomCounts: new Map(),
  countdownTimer: 0,
  roomListTimer: 0,
};

// ---- small helpers ----

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** The same rules as the server's roomName() (src/cli/room-name.ts). */
function roomName(raw) {
  return String(raw)
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[\s_]+/g, '-')
    .replace(/[^a-z0-9-]/g, '')
    .replace(/-{2,}/g, '-')
    .replace(/^-+/, '')
    .slice(0, 32)
    .replace(/-+$/, '');
}

/** What the server accepts as message text: no control characters but newline and tab, trimmed. */
function cleanText(raw) {
  return raw.replace(/(?![\n\t])\p{Cc}/gu, '').trim().slice(0, 2000).replace(/[\ud800-\udbff]$/, '');
}

function messageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** A hue from the name, so each person keeps one colour everywhere. */
function avatar(name, className = 'avatar') {
  const node = element('span', className, ([...name.trim()][0] ?? '?').toUpperCase());
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  node.style.setProperty('--hue', String(hash % 360));
  node.setAttribute('aria-hidden', 'true');
  return node;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'medium' });

function showTime(node, ms) {
  const at = new Date(ms);
  if (Number.isNaN(at.getTime())) return;
  const today = new Date().toDateString() === at.toDateString();
  node.textContent = today ? timeFormat.format(at) : `${dayFormat.format(at)} ${timeFormat.format(at)}`;
  node.dateTime = at.toISOString();
  node.title = fullFormat.format(at);
}

function isChatMessage(data) {
  return typeof data === 'object' && data !== null && typeof data.id === 'string' && typeof data.from === 'string' &&
    typeof data.text === 'string' && typeof data.at === 'number';
}

function savedRooms() {
  try {
    const rooms = JSON.parse(localStorage.getItem(ROOMS_KEY) ?? '[]');
    return Array.isArray(rooms) ? rooms.map(roomName).filter(Boolean).slice(0, 20) : [];
  } catch {
    return [];
  }
}

function rememberRoom(room) {
  const rooms = [room, ...savedRooms().filter((other) => other !== room)].slice(0, 20);
  localStorage.setItem(ROOMS_KEY, JSON.stringify(rooms));
}

// ---- connection ----

function start(name) {
  chat.name = name;
  localStorage.setItem(NAME_KEY, name);
  chat.client = new RealtimeClient(REALTIME_URL, {
    token: () => chat.name,
    // A chat wants to be back quickly: retries at most 5 s apart (full jitter below that).
    backoff: { baseMs: 500, capMs: 5_000 },
    maxQueuedPublishes: MAX_UNSENT,
  });
  const client = chat.client;
  client.on('state', (state, info) => {
    if (client !== chat.client) return;
    showState(state, info);
    if (state === 'connected') connected(client);
  });
  client.on('error', (error) => console.warn('tidewire chat:', error.message));
  joinRoom(initialRoom());
}

// The browser knows before the backoff does: back online, or the tab shown again → try at once.
addEventListener('online', () => chat.client?.reconnectNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') chat.client?.reconnectNow();
});

async function connected(client) {
  refreshRooms();
  try {
    const { name } = await client.call('chat.whoami', {});
    if (client !== chat.client || typeof name !== 'string' || name === '') return;
    if (chat.me !== name) {
      chat.me = name;
      ui.meName.textContent = name;
      ui.meAvatar.replaceWith((ui.meAvatar = avatar(name)));
      ui.me.hidden = false;
      renderPresence();
    }
    updateComposer();
  } catch (error) {
    console.warn('tidewire chat: whoami:', error.message);
  }
}

function showState(state, info) {
  clearInterval(chat.countdownTimer);
  ui.badge.dataset.state = state;
  ui.badge.title = info.code !== undefined ? `close code ${info.code}${info.reason ? `: ${info.reason}` : ''}` : '';
  switch (state) {
    case 'connecting':
      ui.badge.textContent = info.attempt > 0 ? `connecting… (attempt ${info.attempt + 1})` : 'connecting…';
      break;
    case 'connected':
      ui.badge.textContent = 'connected';
      break;
    case 'disconnected': {
      const due = Date.now() + (info.reconnectInMs ?? 0);
      const tick = () => {
        const seconds = Math.ceil((due - Date.now()) / 1000);
        ui.badge.textContent = seconds > 0 ? `disconnected · retrying in ${seconds} s` : 'disconnected · retrying…';
      };
      tick();
      chat.countdownTimer = setInterval(tick, 250);
      break;
    }
    case 'closed':
      ui.badge.textContent = 'closed · reload the page';
      break;
  }
  updateComposer();
}

function updateComposer() {
  const input = ui.composer.elements.text;
  const button = ui.composer.querySelector('button');
  const client = chat.client;
  const usable = chat.me !== '' && client !== null && client.state !== 'closed';
  input.disabled = !usable;
  button.disabled = !usable;
  const online = client?.state === 'connected';
  input.placeholder = !usable ? 'Connecting…' : online ? `Message #${chat.room}` : `Message #${chat.room} (sent when the connection is back)`;
  const unsent = client?.queuedPublishes ?? 0;
  ui.hint.dataset.state = online ? 'online' : 'offline';
  if (!usable) ui.hint.textContent = ' ';
  else if (!online) ui.hint.textContent = unsent > 0 ? `Offline: ${unsent} message${unsent === 1 ? '' : 's'} waiting to be sent.` : 'Offline: what you write is sent when the connection is back.';
  else ui.hint.textContent = unsent > 0 ? `Sending ${unsent}…` : 'Enter to send.';
}

// ---- rooms ----

function initialRoom() {
  return roomName(decodeURIComponent(location.hash.slice(1))) || roomName(params.get('room') ?? '') || savedRooms()[0] || DEFAULT_ROOM;
}

function joinRoom(requested) {
  const room = roomName(requested) || DEFAULT_ROOM;
  if (room === chat.room && chat.subscription !== null) return;
  chat.subscription?.unsubscribe();
  chat.generation += 1;
  chat.room = room;
  chat.epoch = null;
  chat.historyLoaded = false;
  chat.confirmed.clear();
  chat.members.clear();
  ui.messages.replaceChildren();
  hideBanner();
  // Our unplaced messages of this room (sent before we left it, still pending) go back at the end.
  for (const [id, entry] of chat.own) {
    if (entry.room !== room) {
      if (entry.item.dataset.status !== 'pending') chat.own.delete(id); // acked: history shows it
      continue;
    }
    ui.messages.append(entry.item);
  }
  ui.roomName.textContent = room;
  document.title = `#${room} · tidewire chat`;
  if (decodeURIComponent(location.hash.slice(1)) !== room) history.replaceState(null, '', `#${room}`);
  rememberRoom(room);
  renderPresence();
  renderRooms();
  updateComposer();

  const subscription = chat.client.subscribe(`room:${room}`, { presence: true });
  chat.subscription = subscription;
  const current = () => chat.subscription === subscription;
  subscription.on('subscribed', (info) => current() && subscribed(info));
  subscription.on('publication', (data, meta) => current() && meta.epoch === chat.epoch && confirm(data, meta.offset));
  subscription.on('join', (member) => current() && memberJoined(member));
  subscription.on('leave', (member) => current() && memberLeft(member));
  subscription.on('error', (error) => {
    if (!current()) return;
    chat.subscription = null;
    showBanner(`Could not join #${room}: ${error.message}`);
    if (room !== DEFAULT_ROOM) setTimeout(() => joinRoom(DEFAULT_ROOM), 1500);
  });
  subscription.on('unsubscribed', (reason) => {
    if (!current()) return;
    chat.subscription = null;
    showBanner(`The server ended #${room} (${reason.message}); joining again…`);
    setTimeout(() => chat.room === room && chat.subscription === null && rejoin(room), 1000);
  });
  ui.composer.elements.text.focus();
}

function rejoin(room) {
  chat.room = '';
  joinRoom(room);
}

/** After every (re)subscribe: the presence set, and history when we have none or lost some. */
function subscribed(info) {
  chat.members = new Map((info.members ?? []).map((member) => [member.clientId, nameOf(member)]));
  renderPresence();
  const lost = chat.epoch !== null && !info.recovered;
  chat.epoch = info.epoch;
  if (lost) {
    // History no longer covers the time we were away (or the server restarted): start over from it.
    for (const item of [...ui.messages.children]) if (item.dataset.status !== 'pending') item.remove();
    chat.confirmed.clear();
    chat.historyLoaded = false;
    showBanner('Some messages could not be recovered after the reconnect: the room’s history was reloaded.');
  }
  if (!chat.historyLoaded) loadHistory(info.offset);
}

async function loadHistory(until) {
  const generation = ++chat.generation;
  const { client, room, epoch } = chat;
  try {
    const history = await client.call('room.history', { room, limit: HISTORY_LIMIT, until });
    if (generation !== chat.generation || room !== chat.room || history.epoch !== epoch) return;
    chat.historyLoaded = true;
    for (const entry of history.messages) confirm(entry.data, entry.offset);
    const marker = element('li', 'notice start', history.hasEarlier ? `Earlier messages of #${room} are not shown.` : `This is the start of #${room}.`);
    ui.messages.querySelector('.start')?.remove();
    ui.messages.prepend(marker);
    ui.messages.scrollTop = ui.messages.scrollHeight;
  } catch (error) {
    // Not loaded (e.g. the connection dropped meanwhile): the next `subscribed` tries again.
    if (generation === chat.generation) console.warn('tidewire chat: history:', error.message);
  }
}

async function refreshRooms() {
  clearTimeout(chat.roomListTimer);
  const client = chat.client;
  if (client?.state !== 'connected') return;
  try {
    const { rooms } = await client.call('room.list', {});
    chat.roomCounts = new Map(rooms.map((room) => [room.name, room.online]));
    renderRooms();
  } catch {
    // The list stays as it was; the next refresh tries again.
  }
  if (client === chat.client) chat.roomListTimer = setTimeout(refreshRooms, ROOM_LIST_REFRESH_MS);
}

function renderRooms() {
  const names = [...new Set([DEFAULT_ROOM, chat.room, ...chat.roomCounts.keys(), ...savedRooms()])].filter(Boolean);
  names.sort((a, b) => (a === DEFAULT_ROOM ? -1 : b === DEFAULT_ROOM ? 1 : a.localeCompare(b)));
  ui.roomList.replaceChildren(
    ...names.map((name) => {
      const button = element('button', name === chat.room ? 'room current' : 'room');
      button.type = 'button';
      button.dataset.room = name;
      if (name === chat.room) button.setAttribute('aria-current', 'true');
      const count = name === chat.room ? distinctNames().length : chat.roomCounts.get(name) ?? 0;
      button.append(element('span', 'hash', '#'), element('span', 'room-label', name));
      if (count > 0) button.append(element('span', 'count', String(count)));
      const item = element('li');
      item.append(button);
      return item;
    }),
  );
}

// ---- presence ----

function nameOf(member) {
  const name = member.info?.name ?? member.userId ?? 'someone';
  return String(name);
}

function distinctNames() {
  return [...new Set(chat.members.values())];
}

function memberJoined(member) {
  if (chat.members.has(member.clientId)) return; // our own join, or one the subscribe reply listed already
  const name = nameOf(member);
  const isNew = !distinctNames().includes(name);
  chat.members.set(member.clientId, name);
  renderPresence();
  if (isNew && name !== chat.me) notice(`${name} joined`);
}

function memberLeft(member) {
  const name = chat.members.get(member.clientId);
  if (name === undefined || !chat.members.delete(member.clientId)) return;
  renderPresence();
  if (!distinctNames().includes(name) && name !== chat.me) notice(`${name} left`);
}

function renderPresence() {
  const counts = new Map();
  for (const name of chat.members.values()) counts.set(name, (counts.get(name) ?? 0) + 1);
  const names = [...counts.keys()].sort((a, b) => (a === chat.me ? -1 : b === chat.me ? 1 : a.localeCompare(b)));
  ui.presence.replaceChildren(
    ...names.map((name) => {
      const item = element('li', name === chat.me ? 'person me-person' : 'person');
      item.dataset.name = name;
      item.append(avatar(name), element('span', 'person-name', name));
      if (name === chat.me) item.append(element('span', 'tag', 'you'));
      if (counts.get(name) > 1) item.append(element('span', 'tag', `×${counts.get(name)}`));
      return item;
    }),
  );
  ui.roomOnline.textContent = names.length === 0 ? '' : `${names.length} here`;
  renderRooms();
}

// ---- messages ----

function messageItem(data) {
  const item = element('li', 'message');
  item.dataset.id = data.id;
  item.dataset.from = data.from;
  item.dataset.at = String(data.at);
  const body = element('div', 'body');
  const meta = element('div', 'meta');
  const at = element('time', 'at');
  showTime(at, data.at);
  meta.append(element('span', 'from', data.from), at);
  const text = element('div', 'text', data.text);
  text.dir = 'auto';
  body.append(meta, text);
  item.append(avatar(data.from), body);
  return item;
}

function setStatus(item, status, detail = '') {
  item.dataset.status = status;
  let badge = item.querySelector('.status');
  if (badge === null) {
    badge = element('span', 'status');
    item.append(badge);
  }
  badge.textContent = { pending: '◷ pending', delivered: '✓', failed: '⚠ not sent' }[status];
  badge.title = detail || { pending: 'waiting for the server to acknowledge it', delivered: 'delivered', failed: 'not sent' }[status];
}

/** Places a publication at its offset (once); our own pending message becomes that entry. */
function confirm(data, offset) {
  if (!isChatMessage(data) || chat.confirmed.has(offset)) return;
  const ownEntry = chat.own.get(data.id);
  let item;
  if (ownEntry !== undefined && ownEntry.room === chat.room) {
    chat.own.delete(data.id);
    item = ownEntry.item;
  } else {
    item = messageItem(data);
    if (data.from === chat.me) setStatus(item, 'delivered');
  }
  if (data.from === chat.me) item.classList.add('own');
  item.dataset.offset = String(offset);
  chat.confirmed.set(offset, item);
  place(item, offset);
}

/** Inserts by offset: after the last entry that is neither pending nor later than `offset`. */
function place(item, offset) {
  const list = ui.messages;
  const pinned = isPinned();
  let after = list.lastElementChild;
  while (after !== null && (after === item || after.dataset.status === 'pending' && after.dataset.offset === undefined || Number(after.dataset.offset) > offset)) {
    after = after.previousElementSibling;
  }
  if (after === null) list.prepend(item);
  else after.after(item);
  trim();
  regroup(item);
  if (pinned) list.scrollTop = list.scrollHeight;
}

/** Notices go after the last confirmed entry, before our pending messages. */
function notice(text) {
  const pinned = isPinned();
  const item = element('li', 'notice', text);
  const firstPending = [...ui.messages.children].find((child) => child.dataset.status === 'pending' && child.dataset.offset === undefined);
  ui.messages.insertBefore(item, firstPending ?? null);
  if (firstPending) regroup(firstPending);
  trim();
  if (pinned) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function isPinned() {
  const list = ui.messages;
  return list.scrollHeight - list.scrollTop - list.clientHeight < 60;
}

function trim() {
  while (ui.messages.childElementCount > MAX_MESSAGES) {
    const oldest = ui.messages.firstElementChild;
    if (oldest.dataset.offset !== undefined) chat.confirmed.delete(Number(oldest.dataset.offset));
    oldest.remove();
  }
}

/** Consecutive messages by one person within a few minutes share the first one's header. */
function regroup(item) {
  for (const node of [item, item.nextElementSibling]) {
    if (node === null || !node.classList.contains('message')) continue;
    const previous = node.previousElementSibling;
    const continued = previous !== null && previous.classList.contains('message') && previous.dataset.from === node.dataset.from &&
      Math.abs(Number(node.dataset.at) - Number(previous.dataset.at)) < GROUP_WITHIN_MS;
    node.classList.toggle('continued', continued);
  }
}

function send(text) {
  const { client, room } = chat;
  const data = { id: messageId(), from: chat.me, text, at: Date.now() };
  const item = messageItem(data);
  item.classList.add('own');
  setStatus(item, 'pending');
  chat.own.set(data.id, { room, item });
  ui.messages.append(item);
  regroup(item);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  client.publish(`room:${room}`, data).then(
    (ack) => {
      setStatus(item, 'delivered');
      // Placed now if the publication itself has not arrived yet (it then finds it in place).
      if (chat.own.has(data.id) && room === chat.room && ack.epoch === chat.epoch) {
        chat.own.delete(data.id);
        if (!chat.confirmed.has(ack.offset)) {
          item.dataset.offset = String(ack.offset);
          chat.confirmed.set(ack.offset, item);
          place(item, ack.offset);
        }
      }
      updateComposer();
    },
    (error) => {
      chat.own.delete(data.id);
      setStatus(item, 'failed', `${error.code}: ${error.message}`);
      updateComposer();
    },
  );
  updateComposer();
}

// ---- banner and forms ----

function showBanner(text) {
  ui.bannerText.textContent = text;
  ui.banner.hidden = false;
}

function hideBanner() {
  ui.banner.hidden = true;
}

ui.banner.querySelector('.banner-close').addEventListener('click', hideBanner);

ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = ui.composer.elements.text;
  const text = cleanText(input.value);
  if (text === '' || chat.me === '' || chat.client === null) return;
  if (chat.client.queuedPublishes >= MAX_UNSENT) {
    showBanner(`${MAX_UNSENT} messages are already waiting to be sent: wait for the connection to come back.`);
    return;
  }
  input.value = '';
  send(text);
});

ui.newRoom.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = ui.newRoom.elements.room;
  const room = roomName(input.value);
  if (room === '') return;
  input.value = '';
  joinRoom(room);
});

ui.roomList.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-room]');
  if (button !== null) joinRoom(button.dataset.room);
});

addEventListener('hashchange', () => {
  const room = roomName(decodeURIComponent(location.hash.slice(1)));
  if (room !== '' && chat.client !== null) joinRoom(room);
});

function askName(error = '') {
  ui.nameDialog.hidden = false;
  ui.nameError.textContent = error;
  const input = ui.nameForm.elements.name;
  input.value = chat.name || localStorage.getItem(NAME_KEY) || '';
  input.focus();
  input.select();
}

ui.nameForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const name = ui.nameForm.elements.name.value.trim();
  if (name === '') return;
  if (chat.client === null) {
    ui.nameDialog.hidden = true;
    start(name);
    return;
  }
  if (name === chat.name) {
    ui.nameDialog.hidden = true;
    return;
  }
  const unsent = chat.client.queuedPublishes;
  if (unsent > 0) {
    ui.nameError.textContent = `Wait until your ${unsent} unsent message${unsent === 1 ? ' is' : 's are'} delivered.`;
    return;
  }
  // A new name is a new session: a fresh client, the same room.
  ui.nameDialog.hidden = true;
  const room = chat.room;
  chat.client.close();
  chat.client = null;
  chat.subscription = null;
  chat.me = '';
  chat.room = '';
  chat.own.clear();
  ui.me.hidden = true;
  location.hash = room;
  start(name);
});

ui.rename.addEventListener('click', () => askName());
addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !ui.nameDialog.hidden && chat.client !== null) ui.nameDialog.hidden = true;
});

const initialName = (params.get('name') ?? '').trim() || localStorage.getItem(NAME_KEY) || '';
if (initialName !== '') start(initialName);
else askName();
