/** Minimal raster drawing on RGBA8 buffers, for figures (meshes, boxes, points). */

export type Rgba = [number, number, number, number];

/** Alpha-blends one pixel; off-image pixels are ignored. */
export function blendPixel(rgba: Uint8Array, width: number, height: number, x: number, y: number, color: Rgba, coverage = 1): void {
  if (x < 0 || y < 0 || x >= width || y >= height) return;
  const o = (y * width + x) * 4;
  const a = (color[3] / 255) * coverage;
  for (let c = 0; c < 3; c++) rgba[o + c] = Math.round(rgba[o + c]! * (1 - a) + color[c]! * a);
  rgba[o + 3] = 255;
}

/** A 1-pixel line between continuous coordinates (DDA: one sample per pixel along the major axis). */
export function drawLine(rgba: Uint8Array, width: number, height: number, x0: number, y0: number, x1: number, y1: number, color: Rgba): void {
  const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    // The epsilon keeps positions such as 234.9999… (float error on integer ends) on their pixel.
    blendPixel(rgba, width, height, Math.floor(x0 + (x1 - x0) * t + 1e-7), Math.floor(y0 + (y1 - y0) * t + 1e-7), color);
  }
}

/** A filled disc of radius r centred at (x, y). */
export function drawDot(rgba: Uint8Array, width: number, height: number, x: number, y: number, r: number, color: Rgba): void {
  for (let py = Math.floor(y - r); py <= Math.ceil(y + r); py++) {
    for (let px = Math.floor(x - r); px <= Math.ceil(x + r); px++) {
      if ((px + 0.5 - x) ** 2 + (py + 0.5 - y) ** 2 <= r * r) blendPixel(rgba, width, height, px, py, color);
    }
  }
}

/** Draws each triangle's edges once (shared edges are not drawn twice, so blending stays even). */
export function drawTriangleEdges(rgba: Uint8Array, width: number, height: number, xy: Float32Array, triangles: Uint32Array, color: Rgba): void {
  const seen = new Set<number>();
  const n = xy.length / 2;
  for (let t = 0; t < triangles.length; t += 3) {
    for (let e = 0; e < 3; e++) {
      const i = triangles[t + e]!;
      const j = triangles[t + ((e + 1) % 3)]!;
      const key = Math.min(i, j) * n + Math.max(i, j);
      if (seen.has(key)) continue;
      seen.add(key);
      drawLine(rgba, width, height, xy[2 * i]!, xy[2 * i + 1]!, xy[2 * j]!, xy[2 * j + 1]!, color);
    }
  }
}

/** An axis-aligned rectangle outline. */
export function drawRect(rgba: Uint8Array, width: number, height: number, x: number, y: number, w: number, h: number, color: Rgba): void {
  drawLine(rgba, width, height, x, y, x + w, y, color);
  drawLine(rgba, width, height, x + w, y, x + w, y + h, color);
  drawLine(rgba, width, height, x + w, y + h, x, y + h, color);
  drawLine(rgba, width, height, x, y + h, x, y, color);
}
