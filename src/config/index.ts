export { SETTINGS, type Config, type SettingKey, type SettingSpec } from './settings.js';
export { loadConfig, resolveStoreUris, maskedConfig, maskUriPassword, processEnv, type ConfigSources } from './load.js';
