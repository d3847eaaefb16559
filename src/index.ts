/** Capstan's public library surface: the typed client, plus what embedders need to start a server. */
export { CapstanClient, CapstanError, type ClientOptions, type WireExperiment, type WireRun, type WireRunInfo, type WireMetric, type SearchRunsRequest } from './client/index.js';
export { loadConfig, SETTINGS, type Config, type SettingKey } from './config/index.js';
export { ERROR_CODES, AppError, type ErrorCode } from './errors/index.js';
export { createPlatform, type Platform } from './server/platform.js';
