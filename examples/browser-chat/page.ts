/**
 * One browser tab is one peer. It connects to the broker that serve.js started, registers under
 * the id in its URL (`?peer=alice`), serves the seed document's chat and file-sharing
 * controllers, shows who is here (`client.presence()`), chats with everyone in its room (a
 * group, `?room=lobby`: one call to all of them) and offers
 * files, which other tabs download as a stream of chunks with a progress bar, checking the
 * SHA-256. Plain TypeScript and DOM; bundled by build.js (esbuild lowers the decorators).
 */
import { RpcError, RpcErrorCode, RpcWebSocketClient, type PeerInfo } from 'p2pgen';
import '../../generated/index.js';
import './generated/index.js';
import { ChatMessage, ChatPeerController } from '../../contracts/chat.js';
import { FileSharingController } from '../../contracts/file-sharing.js';
import { FileOffer, FileOffersController } from './contracts/file-offers.js';
import { receiveFile, sha256Hex } from './file-transfer.js';

// ---- the DOM -------------------------------------------------------------------------

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
}

function make<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

const ui = {
  me: element('me'),
  status: element('status'),
  error: element('error'),
  peers: element<HTMLUListElement>('peers'),
  events: element<HTMLUListElement>('events'),
  messages: element<HTMLUListElement>('messages'),
  chatForm: element<HTMLFormElement>('chat-form'),
  message: element<HTMLInputElement>('message'),
  file: element<HTMLInputElement>('file'),
  offers: element<HTMLUListElement>('offers'),
};

const clock = (date: Date) => date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function showError(text: string): void {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function showMessage(message: ChatMessage, mine: boolean): void {
  const item = make('li', undefined, { 'data-from': message.from, ...(mine ? { 'data-mine': '' } : {}) });
  item.append(make('time', clock(message.timestamp)), make('b', message.from), `: ${message.message}`);
  ui.messages.append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function showNotice(text: string): void {
  const item = make('li', text, { 'data-notice': '' });
  item.style.color = '#c62828';
  ui.messages.append(item);
}

function showPresence(type: 'here' | 'joined' | 'left', peer: string): void {
  const item = make('li', undefined, { 'data-type': type, 'data-peer': peer });
  item.append(make('time', clock(new Date())), `${peer} ${type === 'here' ? 'is here' : type}`);
  ui.events.append(item);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

// ---- who this tab is ------------------------------------------------------------------

function peerIdFromUrl(): string {
  const params = new URLSearchParams(location.search);
  let id = params.get('peer');
  if (!id) {
    id = `tab-${Math.random().toString(16).slice(2, 6)}`;
    params.set('peer', id);
    history.replaceState(null, '', `?${params}`);
  }
  return id;
}

function brokerUrl(): string {
  const port = document.querySelector<HTMLMetaElement>('meta[name="p2pgen-broker-port"]')?.content;
  if (!port || !/^\d+$/.test(port)) throw new Error('the page does not know the broker: open it through serve.js');
  return `ws://${location.hostname}:${port}`;
}

// ---- the controllers this tab serves ------------------------------------------------------

/** The seed's chat controller, which also shows what arrives. */
class PageChat extends ChatPeerController {
  override sendMessage(message: ChatMessage): void {
    super.sendMessage(message);
    showMessage(message, false);
  }
}

/** Offers from other tabs appear in the file list with a button to download them. */
class PageOffers extends FileOffersController {
  override offer(offer: FileOffer): void {
    super.offer(offer);
    showOffer(offer);
  }
}

const me = peerIdFromUrl();
/** The chat room this tab is in: a group (`?room=name`; 'lobby' by default). */
const room = new URLSearchParams(location.search).get('room') ?? 'lobby';
const client = new RpcWebSocketClient(brokerUrl());
/** The seed's file-sharing controller: it streams the files this tab shares to whoever asks. */
const sharing = new FileSharingController();
client.registerController('/chat', new PageChat());
client.registerController('/file-sharing', sharing);
client.registerController('/file-offers', new PageOffers());

/** The other peers here, by id (presence keeps it current). */
const peers = new Map<string, PeerInfo>();
/** Files this tab shares, offered to every peer that comes. */
const myOffers: FileOffer[] = [];
/** For each file this tab shares: the peers here that it was offered to, and the line that names them. */
const offeredTo = new Map<string, { offer: FileOffer; peers: Set<string>; line: HTMLElement }>();

const others = (controller: string) => [...peers.values()].filter((p) => p.id !== me && p.controllers.includes(controller)).map((p) => p.id);

function renderPeers(): void {
  ui.peers.replaceChildren(
    ...[...peers.values()]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((peer) => {
        const item = make('li', undefined, { 'data-peer': peer.id });
        item.append(make('b', peer.id), ' ', make('small', peer.id === me ? '(you)' : peer.controllers.join(' ')));
        return item;
      }),
  );
}

// ---- chat ---------------------------------------------------------------------------------

async function sendToEveryone(text: string): Promise<void> {
  const message = new ChatMessage(me, text);
  showMessage(message, true);
  // The room is a group: one call reaches everyone in it (one result each), never this tab.
  try {
    const results = await client.group(room).controller<ChatPeerController>('/chat').sendMessage(message);
    for (const result of results) if (!result.ok) showNotice(`not delivered to ${result.peer}: ${result.error.message}`);
  } catch (error) {
    showNotice(`not delivered: ${RpcError.from(error).message}`);
  }
}

ui.chatForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.message.value.trim();
  if (!text) return;
  ui.message.value = '';
  void sendToEveryone(text);
});

// ---- files --------------------------------------------------------------------------------

/** The line under a file this tab shares: who has it on offer now (a peer that left is no longer named). */
function renderOfferedTo(fileId: string): void {
  const entry = offeredTo.get(fileId);
  if (!entry) return;
  const names = [...entry.peers].sort((a, b) => a.localeCompare(b));
  entry.line.textContent = `${formatBytes(entry.offer.size)}, shared by you${names.length > 0 ? `, offered to ${names.join(', ')}` : ' (offered to whoever comes)'}`;
  entry.line.dataset.offeredTo = names.join(' ');
}

async function offerTo(peerId: string, offer: FileOffer): Promise<void> {
  try {
    await client.peer(peerId).controller<FileOffersController>('/file-offers').offer(offer);
    // Still here once it accepted (presence may have said it left meanwhile).
    const entry = offeredTo.get(offer.fileId);
    if (entry && peers.has(peerId)) {
      entry.peers.add(peerId);
      renderOfferedTo(offer.fileId);
    }
  } catch (error) {
    showNotice(`could not offer ${offer.fileName} to ${peerId}: ${RpcError.from(error).message}`);
  }
}

/** A peer left: the files this tab shares are no longer on offer to it. */
function forgetOffersTo(peerId: string): void {
  for (const [fileId, entry] of offeredTo) if (entry.peers.delete(peerId)) renderOfferedTo(fileId);
}

async function shareFile(file: File): Promise<void> {
  const data = new Uint8Array(await file.arrayBuffer());
  const offer = new FileOffer(me, crypto.randomUUID(), file.name.slice(0, 200), data.length, await sha256Hex(data));
  sharing.shareFile(offer.fileId, offer.fileName, data);
  myOffers.push(offer);
  const targets = others('/file-offers');
  const item = make('li', undefined, { 'data-file-id': offer.fileId, 'data-file-name': offer.fileName, 'data-mine': '', 'data-state': 'shared' });
  const line = make('div', undefined, { class: 'offered-to' });
  item.append(make('div', offer.fileName, { class: 'name' }), line, make('div', `SHA-256 ${offer.sha256}`, { class: 'hash' }));
  offeredTo.set(offer.fileId, { offer, peers: new Set(), line });
  renderOfferedTo(offer.fileId);
  ui.offers.prepend(item);
  await Promise.all(targets.map((id) => offerTo(id, offer)));
}

ui.file.addEventListener('change', () => {
  const file = ui.file.files?.[0];
  ui.file.value = ''; // choosing the same file again shares it again
  if (file) shareFile(file).catch((error: unknown) => showError(`sharing failed: ${(error as Error).message}`));
});

function showOffer(offer: FileOffer): void {
  const item = make('li', undefined, { 'data-file-id': offer.fileId, 'data-file-name': offer.fileName, 'data-from': offer.from, 'data-state': 'offered' });
  const download = make('button', 'Download', { class: 'download' });
  const progress = make('progress', undefined, { max: String(offer.size), value: '0' });
  const percent = make('span', '', { class: 'percent' });
  const result = make('div', '', { class: 'result' });
  progress.hidden = true;
  item.append(make('div', offer.fileName, { class: 'name' }), make('div', `${formatBytes(offer.size)} from ${offer.from} `), download, progress, percent, result);
  ui.offers.prepend(item);

  download.addEventListener('click', () => {
    download.disabled = true;
    progress.hidden = false;
    item.dataset.state = 'receiving';
    const show = (received: number) => {
      progress.value = received;
      percent.textContent = `${offer.size === 0 ? 100 : Math.floor((received / offer.size) * 100)}%`;
    };
    show(0);
    void (async () => {
      try {
        const chunks = await client.peer(offer.from).controller<FileSharingController>('/file-sharing').requestFile(offer.fileId);
        const file = await receiveFile(chunks, offer, show);
        show(file.length);
        item.dataset.state = 'verified';
        download.hidden = true;
        result.append(`SHA-256 verified `, make('span', offer.sha256, { class: 'hash' }), ' ');
        const save = make('a', 'Save', { download: offer.fileName, href: URL.createObjectURL(new Blob([file])) });
        result.append(save);
      } catch (error) {
        item.dataset.state = 'failed';
        result.textContent = `failed: ${error instanceof RpcError ? error.message : (error as Error).message}`;
        download.disabled = false;
      }
    })();
  });
}

// ---- connecting ---------------------------------------------------------------------------

const showState = client.state.subscribe((state) => {
  ui.status.textContent = state;
  ui.status.dataset.state = state;
});
// Leave at once when the tab closes or reloads, so the id is free for the next page.
addEventListener('pagehide', () => void client.disconnect());
// A page the browser brings back from its back-forward cache left then: load it anew.
addEventListener('pageshow', (event) => {
  if (event.persisted) location.reload();
});

async function start(): Promise<void> {
  ui.me.textContent = me;
  document.title = `${me} · p2pgen browser chat`;
  await client.connect();
  try {
    await client.registerAsPeer(me);
  } catch (error) {
    const e = RpcError.from(error);
    throw new NotRegistered(e.code === RpcErrorCode.ALREADY_REGISTERED ? `another tab is already '${me}': open this page with ?peer=another-name` : e.message);
  }
  await client.joinGroup(room);
  let snapshot = true;
  const presence = client.presence();
  presence.subscribe({
    next: ({ type, peer }) => {
      const known = peers.has(peer.id);
      if (type === 'joined') peers.set(peer.id, peer);
      else peers.delete(peer.id);
      renderPeers();
      if (peer.id === me) return;
      if (type === 'left') {
        showPresence('left', peer.id);
        forgetOffersTo(peer.id);
      } else if (!known) {
        // A peer seen for the first time (a known one coming again brings new controllers).
        showPresence(snapshot ? 'here' : 'joined', peer.id);
        if (peer.controllers.includes('/file-offers')) for (const offer of myOffers) void offerTo(peer.id, offer);
      }
    },
    error: (error: unknown) => showError(`presence ended: ${RpcError.from(error).message}`),
  });
  await presence.ready;
  snapshot = false;
  document.body.dataset.state = 'ready';
}

/** The tab could not take its id: it is connected, but no peer can reach it. */
class NotRegistered extends Error {}

start().catch(async (error: unknown) => {
  // The header says what the tab is, not that its connection is up: the tab leaves the broker.
  showState.unsubscribe();
  ui.status.textContent = error instanceof NotRegistered ? 'not registered' : 'error';
  ui.status.dataset.state = 'error';
  showError(error instanceof Error ? error.message : String(error));
  await client.disconnect().catch(() => undefined);
  document.body.dataset.state = 'error';
});
