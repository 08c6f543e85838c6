// The orb page: token, companion choice, chat log, orb and voice, wired to /v1/ws.
//
// The token is pasted (or arrives in a link's #token=... fragment, which is removed at
// once), kept in localStorage, and sent only in a header or the socket's first frame.

import { Player } from "./audio.js";
import { Orb } from "./orb.js";
import { Socket } from "./socket.js";

const TOKEN_KEY = "miolumi.token";
const PERSONA_KEY = "miolumi.persona";

const $ = (id) => document.getElementById(id);
const orb = new Orb($("orb"));
const player = new Player();
const personas = new Map(); // id -> {id, display_name, tagline, ...} from /v1/personas
let socket = null;
let pending = null; // id of the message sent, until its turn ends
let turn = null; // {id, text: the reply's element}
let sent = 0;

// What the page did, for tests and the curious (read-only views).
window.miolumi = {
  get audioChunks() { return player.chunks; },
  get audioSeconds() { return player.seconds; },
  orbFrames: [], // the latest 100 orb frames shown
  frames: 0,
};

function storedToken() {
  const linked = new URLSearchParams(location.hash.slice(1)).get("token");
  if (linked) {
    localStorage.setItem(TOKEN_KEY, linked);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY) ?? "";
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function product() {
  return document.querySelector('input[name="product"]:checked').value;
}

function speaker(frame) {
  if (frame.product !== "mio") return "Lumi";
  return personas.get(frame.agent_id)?.display_name ?? frame.agent_id ?? "Mio";
}

function addItem(kind, who, text) {
  const item = document.createElement("li");
  item.className = kind;
  if (who) {
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    item.append(label);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(body);
  $("log").append(item);
  $("log").scrollTop = $("log").scrollHeight;
  return body;
}

function setBusy(busy) {
  $("send").disabled = busy;
  $("stop").disabled = !busy;
  $("log").setAttribute("aria-busy", String(busy));
}

function endTurn({ stopped = false } = {}) {
  if (stopped) {
    turn?.text.parentElement.classList.add("stopped");
    player.stop();
  }
  turn = null;
  pending = null;
  setBusy(false);
}

async function loadPersonas(token) {
  const response = await fetch("/v1/personas", {
    headers: { Authorization: `Bearer ${token}` },
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error?.message ?? `HTTP ${response.status}`);
  const select = $("persona");
  const chosen = localStorage.getItem(PERSONA_KEY) ?? "mio";
  personas.clear();
  select.replaceChildren();
  for (const persona of body) {
    personas.set(persona.id, persona);
    const option = new Option(persona.display_name, persona.id);
    option.title = persona.tagline;
    option.selected = persona.id === chosen;
    select.append(option);
  }
  select.disabled = product() !== "mio";
}

const handlers = {
  ready: () => loadPersonas(socket.token).catch((e) => showError(`Personas: ${e.message}`)),
  turn_start: (frame) => {
    turn = { id: frame.id, text: addItem("companion", speaker(frame), "") };
    player.reset();
  },
  token: (frame) => {
    if (turn?.id !== frame.id) return;
    turn.text.textContent += frame.text;
    $("log").scrollTop = $("log").scrollHeight;
  },
  orb: (frame) => {
    orb.show(frame);
    const shown = window.miolumi.orbFrames;
    shown.push(frame);
    if (shown.length > 100) shown.shift();
  },
  audio: (frame) => player.push(frame),
  relationship: (frame) => {
    const name = personas.get(frame.agent_id)?.display_name ?? frame.agent_id;
    $("relationship").textContent = `${name}: ${frame.label}`;
  },
  turn_end: (frame) => {
    if (turn?.id === frame.id) turn.text.textContent = frame.reply;
    endTurn();
  },
  interrupted: () => endTurn({ stopped: true }),
  error: (frame) => {
    showError(frame.message);
    if (frame.code === "auth") {
      socket.close();
      setStatus("Token refused");
    }
    // final: the turn is over (nothing of it was recorded). Otherwise it goes on (a voice
    // failed, the text still comes) and ends with turn_end as usual.
    if (frame.final && frame.id === pending) endTurn({ stopped: true });
  },
  closed: () => {
    if (pending !== null || turn !== null) endTurn({ stopped: true });
  },
};

function onFrame(frame) {
  if (frame.frame !== undefined) window.miolumi.frames = frame.frame;
  handlers[frame.type]?.(frame);
}

function connect(token) {
  socket?.close();
  socket = null;
  showError("");
  if (!token) {
    setStatus("Paste an API token to connect");
    return;
  }
  socket = new Socket({ token, onFrame, onStatus: setStatus });
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const typed = $("token").value.trim();
  if (typed) localStorage.setItem(TOKEN_KEY, typed);
  connect(localStorage.getItem(TOKEN_KEY) ?? "");
});

for (const radio of document.querySelectorAll('input[name="product"]')) {
  radio.addEventListener("change", () => {
    $("persona").disabled = product() !== "mio" || personas.size === 0;
    $("relationship").textContent = "";
  });
}

$("persona").addEventListener("change", () => {
  localStorage.setItem(PERSONA_KEY, $("persona").value);
  $("relationship").textContent = "";
});

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("message").value.trim();
  if (!text || pending !== null) return;
  player.unlock(); // inside the click or key press: browsers allow audio from here on
  const id = `m${++sent}`;
  const frame = { type: "message", id, text, product: product(), voice: $("voice").checked };
  if (frame.product === "mio" && $("persona").value) frame.agent_id = $("persona").value;
  if (!socket?.send(frame)) {
    showError("Not connected: paste an API token and press Connect.");
    return;
  }
  showError("");
  addItem("user", "You", text);
  $("message").value = "";
  pending = id;
  setBusy(true);
});

$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("stop").addEventListener("click", () => {
  socket?.send({ type: "interrupt" });
  player.stop();
});

function start() {
  const token = storedToken();
  $("token").value = token;
  connect(token);
}

window.addEventListener("hashchange", () => {
  if (location.hash.includes("token=")) start();
});
start();
