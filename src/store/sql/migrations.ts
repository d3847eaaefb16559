import type { Dialect } from './dialect.js';

/**
 * Versioned schema migrations. Append only: a released migration is never edited, a change is a
 * new entry. Each entry is a list of statements built from the dialect's types so one text serves
 * SQLite and PostgreSQL.
 */
export interface Migration {
  version: number;
  name: string;
  statements(d: Dialect): string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tracking',
    statements: ({ types: t, clusteredTableSuffix: clustered, longTextEqualityIndex }) => [
      `CREATE TABLE experiments (
        experiment_id ${t.id},
        name ${t.text} NOT NULL UNIQUE,
        artifact_location ${t.text} NOT NULL,
        lifecycle_stage ${t.text} NOT NULL,
        creation_time ${t.bigint} NOT NULL,
        last_update_time ${t.bigint} NOT NULL
      )`,
      `CREATE TABLE experiment_tags (
        experiment_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (experiment_id, key)
      )${clustered}`,
      // run_id is the compact internal key every child table uses; run_uuid is MLflow's 32-hex id.
      `CREATE TABLE runs (
        run_id ${t.id},
        run_uuid ${t.text} NOT NULL UNIQUE,
        experiment_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        user_id ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        start_time ${t.bigint} NOT NULL,
        end_time ${t.bigint},
        lifecycle_stage ${t.text} NOT NULL,
        artifact_uri ${t.text} NOT NULL,
        deleted_time ${t.bigint}
      )`,
      'CREATE INDEX runs_experiment_start ON runs (experiment_id, start_time, run_id)',
      `CREATE TABLE params (
        run_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (run_id, key)
      )${clustered}`,
      longTextEqualityIndex('params_value', 'params', 'value'),
      `CREATE TABLE tags (
        run_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (run_id, key)
      )${clustered}`,
      'CREATE INDEX tags_key ON tags (key, run_id)',
      // The whole history as chunks of packed points (see src/tracking/metric-chunks.ts); wire_json
      // caches a chunk's points as MLflow JSON once a history read has rendered them.
      `CREATE TABLE metric_chunks (
        chunk_id ${t.id},
        run_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        min_step ${t.bigint} NOT NULL,
        max_step ${t.bigint} NOT NULL,
        points ${t.bigint} NOT NULL,
        data ${t.blob} NOT NULL,
        wire_json ${t.text}
      )`,
      'CREATE INDEX metric_chunks_run_key ON metric_chunks (run_id, key, max_step)',
      // The latest point per (run, key) by (step, timestamp, value): what Run.data.metrics lists and
      // what search filters and sorts on.
      `CREATE TABLE latest_metrics (
        run_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        step ${t.bigint} NOT NULL,
        timestamp ${t.bigint} NOT NULL,
        is_nan SMALLINT NOT NULL,
        value ${t.double} NOT NULL,
        PRIMARY KEY (run_id, key)
      )${clustered}`,
      'CREATE INDEX latest_metrics_key_value ON latest_metrics (key, is_nan, value, run_id)',
      `CREATE TABLE datasets (
        dataset_id ${t.id},
        experiment_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        digest ${t.text} NOT NULL,
        source_type ${t.text} NOT NULL,
        source ${t.text} NOT NULL,
        schema ${t.text},
        profile ${t.text},
        UNIQUE (experiment_id, name, digest)
      )`,
      `CREATE TABLE run_inputs (
        run_id ${t.bigint} NOT NULL,
        dataset_id ${t.bigint} NOT NULL,
        PRIMARY KEY (run_id, dataset_id)
      )${clustered}`,
      `CREATE TABLE run_input_tags (
        run_id ${t.bigint} NOT NULL,
        dataset_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (run_id, dataset_id, key)
      )${clustered}`,
    ],
  },
];
