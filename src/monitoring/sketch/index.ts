// Mergeable streaming column profiles for drift monitoring: KLL quantile sketches, numerical and
// categorical column profiles, table profiles, and drift statistics computed from two profiles.
export { KllSketch, KLL_DEFAULT_K, KLL_DEFAULT_SEED, KLL_MAX_K, KLL_MIN_K, type KllJson, type SortedView } from './kll.js';
export {
  CategoricalProfile,
  categoryHash,
  columnSeed,
  combineMoments,
  DEFAULT_MAX_CATEGORIES,
  NumericProfile,
  PROFILE_FORMAT_VERSION,
  TableProfile,
  type CategoricalFacts,
  type CategoricalProfileJson,
  type CategoricalProfileOptions,
  type ColumnKind,
  type ColumnProfile,
  type ColumnSpec,
  type ColumnValues,
  type LikeReferenceOptions,
  type NumericalFacts,
  type NumericProfileJson,
  type NumericProfileOptions,
  type TableProfileJson,
  type TableProfileOptions,
} from './profile.js';
export * from './drift.js';
