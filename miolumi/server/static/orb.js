// The orb: an element whose colour and brightness ease to each `orb` frame over its
// transition_ms (CSS transitions on registered custom properties) and which pulses
// pulse_hz times a second (a CSS animation, off under prefers-reduced-motion).

export class Orb {
  /** @param {HTMLElement} element */
  constructor(element) {
    this.element = element;
  }

  /** Show an `orb` frame: {name, colour, pulse_hz, brightness, transition_ms}. */
  show({ name, colour, pulse_hz, brightness, transition_ms }) {
    const style = this.element.style;
    style.setProperty("--orb-ms", `${Math.max(0, transition_ms)}ms`);
    style.setProperty("--orb-colour", colour);
    style.setProperty("--orb-brightness", String(brightness));
    style.setProperty("--orb-period", `${(1 / Math.max(pulse_hz, 0.05)).toFixed(3)}s`);
    this.element.dataset.name = name;
    this.element.dataset.colour = colour;
    this.element.setAttribute("aria-label", `The orb: ${name}`);
  }
}
