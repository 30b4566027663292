// Figures and reports: colour maps, heatmaps with colour bars, overlays on the canonical face and on
// photos, facial-region summaries, and a self-contained HTML index.
export { meshOverlay } from './figures.js';
export {
  COLORMAPS, COLORMAP_NAMES, LUT_LEVELS, colormap, colormapLut, heatmapRgba, isColormapName, rangePosition, resolveRange,
  type ColormapName, type HeatmapOptions, type ResolvedRange, type Rgb,
} from './colormap.js';
export { colorbarTicks, formatTick, heatmapWithColorbar, rgbaPng, withColorbar, type ColorbarOptions, type RgbaImage } from './colorbar.js';
export { drawText, drawTextUp, textWidth, GLYPH_HEIGHT } from './font.js';
export { canonicalOverlay, photoOverlay, type CanonicalOverlayOptions, type Overlay, type OverlayOptions } from './overlay.js';
export {
  REGION_COLORS, REGION_NAMES, allRegionsNegative, convexHull, regionMasks, regionTable, regionTableMarkdown, regionsRgba, topRegionsText,
  type RegionName, type RegionOptions, type RegionRow,
} from './regions.js';
export { escapeHtml, markdownToHtml, renderHtml, writeHtmlIndex, type ReportImage, type ReportSection, type ReportSpec } from './html.js';
export { coverageMask, writeCanonicalMap, type CanonicalMapSpace, type WrittenMap } from './maps.js';
export { BAR_COLORS, barChart, lineChart, niceTicks, type BarChartOptions, type LineChartOptions, type LineSeries } from './chart.js';
export { intervalBarChart, type IntervalBarChartOptions } from './chart.js';
