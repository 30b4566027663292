// Two sets of canonical maps side by side with intervals: bootstrap, permutation tests, masks.
export {
  COMPARE_DEFAULTS, benjaminiHochberg, compareSamples, holm, methodDescription,
  type CompareDesign, type CompareOptions, type CompareResult, type Correction, type MapSample,
} from './stats.js';
export {
  compareMapSets, compareMemoryBytes, compareRegionMarkdown, convergenceBand, normaliseMap, type ConvergenceBandPoint, regionSample, toFloat32, type MapNormalisation,
  type CanonicalMapSet, type CompareRegionRow, type MapComparison,
} from './maps.js';
export { compareFigures, mapOverlay, sharedRange, titledRow, type CompareFigures } from './figure.js';
export { COMPARISON_FILES, writeComparison, type ComparisonInput, type ComparisonSide, type ComparisonStatistics, type WrittenComparison } from './write.js';
export { groupsBase, readGroups } from './groups.js';
