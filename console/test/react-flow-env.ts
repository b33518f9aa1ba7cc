/**
 * What React Flow needs from a browser that jsdom lacks (ResizeObserver, DOMMatrixReadOnly,
 * element sizes, SVG bounding boxes), after React Flow's own testing guide. Imported by the DAG
 * page's tests only; the rest of the console's tests run on plain jsdom.
 */
class ResizeObserverStub {
  constructor(private readonly callback: ResizeObserverCallback) {}
  observe(target: Element) {
    this.callback([{ target } as ResizeObserverEntry], this as unknown as ResizeObserver);
  }
  unobserve() {}
  disconnect() {}
}

class DOMMatrixReadOnlyStub {
  readonly m22: number;
  constructor(transform?: string) {
    const scale = transform?.match(/scale\(([0-9.]+)\)/)?.[1];
    this.m22 = scale !== undefined ? Number(scale) : 1;
  }
}

const g = globalThis as Record<string, unknown>;
g.ResizeObserver ??= ResizeObserverStub;
g.DOMMatrixReadOnly ??= DOMMatrixReadOnlyStub;

Object.defineProperties(HTMLElement.prototype, {
  offsetHeight: { configurable: true, get(this: HTMLElement) { return parseFloat(this.style.height) || 600; } },
  offsetWidth: { configurable: true, get(this: HTMLElement) { return parseFloat(this.style.width) || 800; } },
});

(SVGElement.prototype as unknown as { getBBox: () => DOMRect }).getBBox = () => ({ x: 0, y: 0, width: 0, height: 0 }) as DOMRect;
