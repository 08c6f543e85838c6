// The /v1/ws connection: authenticates with the token in its first frame (never in the
// URL), pings every 20 s, and reconnects with exponential backoff when it closes.

const HEARTBEAT_MS = 20_000;
const BACKOFF_MS = [500, 1_000, 2_000, 4_000, 8_000, 15_000, 30_000];

export class Socket {
  /**
   * @param {object} options
   * @param {string} options.token  API token, sent as {"type": "auth"}.
   * @param {(frame: object) => void} options.onFrame  Every server frame, parsed.
   * @param {(text: string, connected: boolean) => void} options.onStatus
   */
  constructor({ token, onFrame, onStatus }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
    this.retry = null;
    this.heartbeat = null;
    this.open();
  }

  get url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}/v1/ws`;
  }

  open() {
    this.onStatus("Connecting…", false);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token: this.token }));
      this.heartbeat = setInterval(() => this.send({ type: "ping" }), HEARTBEAT_MS);
    });
    ws.addEventListener("message", (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === "ready") {
        this.attempt = 0;
        this.onStatus(`Connected as ${frame.user_id}`, true);
      }
      this.onFrame(frame);
    });
    ws.addEventListener("close", () => this.closedByServer(ws));
  }

  closedByServer(ws) {
    clearInterval(this.heartbeat);
    if (this.closed || ws !== this.ws) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.onStatus(`Disconnected; retrying in ${Math.round(delay / 1000) || 1} s`, false);
    this.onFrame({ type: "closed" });
    this.retry = setTimeout(() => this.open(), delay * (0.8 + 0.4 * Math.random()));
  }

  /** Send a frame; false when the connection is not open. */
  send(frame) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Close for good (a new token, or the token was refused). */
  close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    this.ws?.close();
  }
}
