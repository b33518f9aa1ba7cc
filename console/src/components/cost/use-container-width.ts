/**
 * The width a chart may take: its container's, followed with ResizeObserver. Where there is no
 * ResizeObserver (jsdom in the component tests) the fallback width is used, so the SVG still renders.
 */
import { useEffect, useRef, useState } from "react";

export function useContainerWidth(fallback = 640) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry && entry.contentRect.width > 0) setWidth(Math.max(280, Math.floor(entry.contentRect.width)));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}
