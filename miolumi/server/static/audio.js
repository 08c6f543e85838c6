// Spoken replies: `audio` frames (base64 pcm_s16le mono) decoded into Web Audio buffers
// and scheduled back to back in `seq` order; a chunk that arrives early waits its turn.

export class Player {
  constructor() {
    this.context = null;
    this.sources = new Set();
    this.chunks = 0; // chunks scheduled since the page loaded
    this.seconds = 0; // audio scheduled since the page loaded
    this.reset();
  }

  /** Create or resume the AudioContext; call from a user gesture (autoplay rules). */
  unlock() {
    this.context ??= new AudioContext();
    if (this.context.state === "suspended") this.context.resume();
  }

  /** Forget the pending chunks of a turn and start the next turn's audio at seq 0. */
  reset() {
    this.pending = new Map();
    this.next = 0;
    this.until = 0;
  }

  /** Queue an `audio` frame; plays every chunk whose predecessors have arrived. */
  push(frame) {
    if (frame.format !== "pcm_s16le") throw new Error(`Unknown audio format ${frame.format}`);
    this.pending.set(frame.seq, frame);
    while (this.pending.has(this.next)) {
      this.schedule(this.pending.get(this.next));
      this.pending.delete(this.next);
      this.next += 1;
    }
  }

  schedule({ data, sample_rate }) {
    this.context ??= new AudioContext();
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const samples = new DataView(bytes.buffer);
    const count = bytes.length >> 1;
    if (count === 0) return;
    const buffer = this.context.createBuffer(1, count, sample_rate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < count; i += 1) channel[i] = samples.getInt16(2 * i, true) / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const start = Math.max(this.context.currentTime + 0.05, this.until);
    source.start(start);
    this.until = start + buffer.duration;
    this.sources.add(source);
    source.addEventListener("ended", () => this.sources.delete(source));
    this.chunks += 1;
    this.seconds += buffer.duration;
  }

  /** Silence everything scheduled (Stop, or a turn that was interrupted). */
  stop() {
    for (const source of this.sources) source.stop();
    this.sources.clear();
    this.reset();
  }
}
