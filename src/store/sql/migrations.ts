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
  {
    version: 2,
    name: 'access',
    statements: ({ types: t, clusteredTableSuffix: clustered, syncIdentitySql }) => [
      `CREATE TABLE projects (
        project_id ${t.id},
        name ${t.text} NOT NULL UNIQUE,
        description ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL
      )`,
      `INSERT INTO projects (project_id, name, description, created_time) VALUES (1, 'default', 'The project every request uses unless it names another.', 0)`,
      // Experiment names become unique per project: rebuilt rather than altered, since SQLite cannot
      // drop a UNIQUE constraint in place.
      `CREATE TABLE experiments_v2 (
        experiment_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        artifact_location ${t.text} NOT NULL,
        lifecycle_stage ${t.text} NOT NULL,
        creation_time ${t.bigint} NOT NULL,
        last_update_time ${t.bigint} NOT NULL,
        UNIQUE (project_id, name)
      )`,
      `INSERT INTO experiments_v2 (experiment_id, project_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
       SELECT experiment_id, 1, name, artifact_location, lifecycle_stage, creation_time, last_update_time FROM experiments`,
      'DROP TABLE experiments',
      'ALTER TABLE experiments_v2 RENAME TO experiments',
      // Users, robot accounts and OIDC identities; password_hash is null for robots and OIDC.
      `CREATE TABLE principals (
        principal_id ${t.id},
        name ${t.text} NOT NULL UNIQUE,
        kind ${t.text} NOT NULL,
        password_hash ${t.text},
        is_owner SMALLINT NOT NULL,
        disabled SMALLINT NOT NULL,
        created_time ${t.bigint} NOT NULL,
        failed_logins ${t.bigint} NOT NULL,
        locked_until ${t.bigint} NOT NULL
      )`,
      `CREATE TABLE memberships (
        project_id ${t.bigint} NOT NULL,
        principal_id ${t.bigint} NOT NULL,
        role ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        PRIMARY KEY (project_id, principal_id)
      )${clustered}`,
      'CREATE INDEX memberships_principal ON memberships (principal_id)',
      // Only the sha256 of a token is kept; the token itself is shown once.
      `CREATE TABLE api_tokens (
        token_id ${t.id},
        principal_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        kind ${t.text} NOT NULL,
        token_hash ${t.text} NOT NULL UNIQUE,
        scopes ${t.text} NOT NULL,
        project_id ${t.bigint},
        created_time ${t.bigint} NOT NULL,
        expires_at ${t.bigint},
        revoked_at ${t.bigint},
        last_used_at ${t.bigint}
      )`,
      'CREATE INDEX api_tokens_principal ON api_tokens (principal_id)',
      // A hash chain: each event's hash covers its content and the previous event's hash.
      `CREATE TABLE audit_events (
        seq ${t.bigint} PRIMARY KEY,
        time ${t.bigint} NOT NULL,
        actor ${t.text} NOT NULL,
        token_id ${t.text},
        action ${t.text} NOT NULL,
        resource ${t.text} NOT NULL,
        project ${t.text},
        outcome ${t.text} NOT NULL,
        summary ${t.text} NOT NULL,
        request_id ${t.text},
        client_ip ${t.text},
        prev_hash ${t.text} NOT NULL,
        hash ${t.text} NOT NULL
      )`,
      'CREATE INDEX audit_events_time ON audit_events (time)',
      `CREATE TABLE secrets (
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        key_id ${t.text} NOT NULL,
        sealed ${t.blob} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL,
        PRIMARY KEY (project_id, name)
      )${clustered}`,
      // Server-wide values every replica must share (the key that signs upload URLs).
      `CREATE TABLE server_state (
        key ${t.text} PRIMARY KEY,
        value ${t.text} NOT NULL
      )${clustered}`,
      ...[syncIdentitySql('projects', 'project_id'), syncIdentitySql('experiments', 'experiment_id')].filter((s): s is string => s !== null),
    ],
  },
  {
    version: 3,
    name: 'registry',
    statements: ({ types: t, clusteredTableSuffix: clustered, bytewise }) => [
      // Version numbers are never reused, even after a delete: next_version only grows.
      `CREATE TABLE registered_models (
        model_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        description ${t.text} NOT NULL,
        creation_time ${t.bigint} NOT NULL,
        last_update_time ${t.bigint} NOT NULL,
        next_version ${t.bigint} NOT NULL,
        UNIQUE (project_id, name)
      )`,
      `CREATE TABLE registered_model_tags (
        model_id ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (model_id, key)
      )${clustered}`,
      // storage_root is the artifact-store prefix holding the version's files; the manifest lists
      // each file's path, size and sha256, and manifest_signature is the server's Ed25519 signature
      // over manifest_digest. Files under a version's storage_root cannot be overwritten or deleted.
      `CREATE TABLE model_versions (
        model_id ${t.bigint} NOT NULL,
        version ${t.bigint} NOT NULL,
        semver ${t.text} NOT NULL,
        description ${t.text} NOT NULL,
        source ${t.text} NOT NULL,
        storage_root ${t.text} NOT NULL,
        run_id ${t.text} NOT NULL,
        run_link ${t.text} NOT NULL,
        user_id ${t.text} NOT NULL,
        stage ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        creation_time ${t.bigint} NOT NULL,
        last_update_time ${t.bigint} NOT NULL,
        manifest ${t.text} NOT NULL,
        manifest_digest ${t.text} NOT NULL,
        signing_key_id ${t.text} NOT NULL,
        manifest_signature ${t.text} NOT NULL,
        model_signature ${t.text},
        card ${t.text} NOT NULL,
        unsafe_files ${t.text} NOT NULL,
        code_version ${t.text} NOT NULL,
        logged_model_id ${t.text} NOT NULL,
        PRIMARY KEY (model_id, version)
      )${clustered}`,
      'CREATE INDEX model_versions_run ON model_versions (run_id)',
      `CREATE INDEX model_versions_storage ON model_versions (storage_root${bytewise})`,
      'CREATE INDEX model_versions_stage ON model_versions (model_id, stage, version)',
      'CREATE INDEX model_versions_updated ON model_versions (last_update_time)',
      `CREATE TABLE model_version_tags (
        model_id ${t.bigint} NOT NULL,
        version ${t.bigint} NOT NULL,
        key ${t.text} NOT NULL,
        value ${t.text} NOT NULL,
        PRIMARY KEY (model_id, version, key)
      )${clustered}`,
      'CREATE INDEX model_version_tags_key ON model_version_tags (key, value)',
      `CREATE TABLE model_aliases (
        model_id ${t.bigint} NOT NULL,
        alias ${t.text} NOT NULL,
        version ${t.bigint} NOT NULL,
        PRIMARY KEY (model_id, alias)
      )${clustered}`,
      // Every transition, denial and override, per model: what `capstan models history` shows.
      `CREATE TABLE model_events (
        event_id ${t.id},
        model_id ${t.bigint} NOT NULL,
        version ${t.bigint},
        time ${t.bigint} NOT NULL,
        actor ${t.text} NOT NULL,
        kind ${t.text} NOT NULL,
        detail ${t.text} NOT NULL
      )`,
      'CREATE INDEX model_events_model ON model_events (model_id, event_id)',
      // Public halves of every key that ever signed: a rotated-out key still verifies what it signed.
      `CREATE TABLE signing_keys (
        key_id ${t.text} PRIMARY KEY,
        public_key ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        retired_time ${t.bigint}
      )${clustered}`,
      // Dataset versions are content-addressed: the same bytes under the same name are one version.
      `CREATE TABLE dataset_versions (
        dataset_version_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        version ${t.bigint} NOT NULL,
        digest ${t.text} NOT NULL,
        storage_root ${t.text} NOT NULL,
        source ${t.text} NOT NULL,
        format ${t.text} NOT NULL,
        size_bytes ${t.bigint} NOT NULL,
        file_count ${t.bigint} NOT NULL,
        row_count ${t.bigint} NOT NULL,
        schema_json ${t.text} NOT NULL,
        profile ${t.text} NOT NULL,
        manifest ${t.text} NOT NULL,
        description ${t.text} NOT NULL,
        sensitive SMALLINT NOT NULL,
        access ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        created_by ${t.text} NOT NULL,
        UNIQUE (project_id, name, digest),
        UNIQUE (project_id, name, version)
      )`,
      `CREATE INDEX dataset_versions_storage ON dataset_versions (storage_root${bytewise})`,
      // MLflow 3.x logged models: a model's files live under its experiment, apart from any run.
      `CREATE TABLE logged_models (
        model_id ${t.text} PRIMARY KEY,
        experiment_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        model_type ${t.text} NOT NULL,
        source_run_id ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        status_message ${t.text} NOT NULL,
        artifact_location ${t.text} NOT NULL,
        creation_time ${t.bigint} NOT NULL,
        last_update_time ${t.bigint} NOT NULL,
        params ${t.text} NOT NULL,
        tags ${t.text} NOT NULL
      )${clustered}`,
      'CREATE INDEX logged_models_experiment ON logged_models (experiment_id, creation_time)',
      `CREATE TABLE run_outputs (
        run_id ${t.text} NOT NULL,
        model_id ${t.text} NOT NULL,
        step ${t.bigint} NOT NULL,
        PRIMARY KEY (run_id, model_id)
      )${clustered}`,
      // One policy document per project: promotion gates and retention rules, as YAML.
      `CREATE TABLE project_policies (
        project_id ${t.bigint} PRIMARY KEY,
        text ${t.text} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL
      )${clustered}`,
    ],
  },
  {
    version: 4,
    name: 'serving',
    statements: ({ types: t }) => [
      // A deployment is its spec (JSON) plus the rollout's live state. revision grows on every change
      // so each replica notices a change by polling (deployment_id, revision).
      `CREATE TABLE deployments (
        deployment_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        spec ${t.text} NOT NULL,
        revision ${t.bigint} NOT NULL,
        rollout ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL,
        UNIQUE (project_id, name)
      )`,
      // Every traffic change and canary decision, newest last.
      `CREATE TABLE deployment_events (
        event_id ${t.id},
        deployment_id ${t.bigint} NOT NULL,
        time ${t.bigint} NOT NULL,
        actor ${t.text} NOT NULL,
        kind ${t.text} NOT NULL,
        detail ${t.text} NOT NULL
      )`,
      'CREATE INDEX deployment_events_by_deployment ON deployment_events (deployment_id, event_id)',
      // Sampled requests and answers (and every shadow answer) for monitoring.
      `CREATE TABLE prediction_logs (
        log_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        deployment ${t.text} NOT NULL,
        model ${t.text} NOT NULL,
        version ${t.text} NOT NULL,
        role ${t.text} NOT NULL,
        request_id ${t.text} NOT NULL,
        time ${t.bigint} NOT NULL,
        latency_ms ${t.double} NOT NULL,
        inputs ${t.text} NOT NULL,
        outputs ${t.text} NOT NULL
      )`,
      'CREATE INDEX prediction_logs_by_deployment ON prediction_logs (project_id, deployment, time)',
      'CREATE INDEX prediction_logs_by_request ON prediction_logs (request_id)',
    ],
  },
  {
    version: 5,
    name: 'monitoring',
    statements: ({ types: t, clusteredTableSuffix: clustered }) => [
      // Monitors page through a window newest first by log_id.
      'CREATE INDEX prediction_logs_by_deployment_log ON prediction_logs (project_id, deployment, log_id)',
      // Request counts per deployment, version and minute, one row per replica (each replica
      // rewrites only its own rows, so no increments race); readers sum over replicas.
      `CREATE TABLE serving_minutes (
        project_id ${t.bigint} NOT NULL,
        deployment ${t.text} NOT NULL,
        model ${t.text} NOT NULL,
        version ${t.text} NOT NULL,
        minute ${t.bigint} NOT NULL,
        replica ${t.text} NOT NULL,
        requests ${t.bigint} NOT NULL,
        errors ${t.bigint} NOT NULL,
        latency_counts ${t.text} NOT NULL,
        compute_ms ${t.double} NOT NULL,
        PRIMARY KEY (project_id, deployment, minute, model, version, replica)
      )${clustered}`,
      'CREATE INDEX serving_minutes_by_minute ON serving_minutes (project_id, minute)',
      // What a model version's inputs and outputs looked like when it was made: mergeable sketches
      // per column, plus the rows themselves when few enough for exact statistics.
      `CREATE TABLE reference_profiles (
        project_id ${t.bigint} NOT NULL,
        model ${t.text} NOT NULL,
        version ${t.bigint} NOT NULL,
        source ${t.text} NOT NULL,
        row_count ${t.bigint} NOT NULL,
        profile ${t.text} NOT NULL,
        sample ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        created_by ${t.text} NOT NULL,
        PRIMARY KEY (project_id, model, version)
      )`,
      // Ground truth that arrives after the prediction, keyed by the request id the answer carried.
      `CREATE TABLE prediction_feedback (
        project_id ${t.bigint} NOT NULL,
        deployment ${t.text} NOT NULL,
        request_id ${t.text} NOT NULL,
        label ${t.text} NOT NULL,
        time ${t.bigint} NOT NULL,
        PRIMARY KEY (project_id, deployment, request_id)
      )${clustered}`,
      // A monitor is its document; next_run_time is claimed with a compare-and-set so one replica runs each tick.
      `CREATE TABLE monitors (
        monitor_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        spec ${t.text} NOT NULL,
        next_run_time ${t.bigint} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL,
        UNIQUE (project_id, name)
      )`,
      `CREATE TABLE monitor_runs (
        run_id ${t.id},
        monitor_id ${t.bigint} NOT NULL,
        time ${t.bigint} NOT NULL,
        window_start ${t.bigint} NOT NULL,
        window_end ${t.bigint} NOT NULL,
        row_count ${t.bigint} NOT NULL,
        mode ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        summary ${t.text} NOT NULL,
        report ${t.text} NOT NULL
      )`,
      'CREATE INDEX monitor_runs_by_monitor ON monitor_runs (monitor_id, run_id)',
      // One row per alert identity (fingerprint); its history is in alert_events.
      `CREATE TABLE alerts (
        alert_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        fingerprint ${t.text} NOT NULL,
        rule ${t.text} NOT NULL,
        severity ${t.text} NOT NULL,
        labels ${t.text} NOT NULL,
        summary ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        state ${t.text} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        UNIQUE (project_id, fingerprint)
      )`,
      `CREATE TABLE alert_events (
        event_id ${t.id},
        alert_id ${t.bigint} NOT NULL,
        time ${t.bigint} NOT NULL,
        kind ${t.text} NOT NULL,
        detail ${t.text} NOT NULL
      )`,
      'CREATE INDEX alert_events_by_alert ON alert_events (alert_id, event_id)',
      `CREATE TABLE silences (
        silence_id ${t.id},
        project_id ${t.bigint} NOT NULL,
        matchers ${t.text} NOT NULL,
        starts_time ${t.bigint} NOT NULL,
        ends_time ${t.bigint} NOT NULL,
        created_by ${t.text} NOT NULL,
        comment ${t.text} NOT NULL
      )`,
      // Where a project's alerts go: generic JSON or Slack-compatible webhooks.
      `CREATE TABLE notification_channels (
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        kind ${t.text} NOT NULL,
        url ${t.text} NOT NULL,
        min_severity ${t.text} NOT NULL,
        secret_name ${t.text} NOT NULL,
        PRIMARY KEY (project_id, name)
      )${clustered}`,
      `CREATE TABLE cost_budgets (
        project_id ${t.bigint} PRIMARY KEY,
        monthly_limit ${t.double} NOT NULL,
        next_check_time ${t.bigint} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL
      )${clustered}`,
    ],
  },
  {
    version: 6,
    name: 'pipelines',
    statements: ({ types: t, clusteredTableSuffix: clustered }) => [
      // An applied pipeline: its file and its triggers, by name within a project.
      `CREATE TABLE pipelines (
        project_id ${t.bigint} NOT NULL,
        name ${t.text} NOT NULL,
        source ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        updated_time ${t.bigint} NOT NULL,
        updated_by ${t.text} NOT NULL,
        principal_id ${t.bigint},
        PRIMARY KEY (project_id, name)
      )${clustered}`,
      // One run of a pipeline file. The replica executing it holds a lease it renews; a run whose
      // lease lapsed (its replica died) is taken over by another replica or the restarted one.
      `CREATE TABLE pipeline_runs (
        run_id ${t.text} PRIMARY KEY,
        project_id ${t.bigint} NOT NULL,
        pipeline ${t.text} NOT NULL,
        source ${t.text} NOT NULL,
        params ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        trigger_kind ${t.text} NOT NULL,
        trigger_detail ${t.text} NOT NULL,
        runner ${t.text} NOT NULL,
        use_cache ${t.bigint} NOT NULL,
        mlflow_run_id ${t.text} NOT NULL,
        created_by ${t.text} NOT NULL,
        principal_id ${t.bigint},
        created_time ${t.bigint} NOT NULL,
        started_time ${t.bigint},
        finished_time ${t.bigint},
        message ${t.text} NOT NULL,
        owner ${t.text} NOT NULL,
        lease_until ${t.bigint} NOT NULL,
        cancel_requested ${t.bigint} NOT NULL,
        token_id ${t.bigint}
      )${clustered}`,
      'CREATE INDEX pipeline_runs_by_project ON pipeline_runs (project_id, created_time)',
      'CREATE INDEX pipeline_runs_by_status ON pipeline_runs (status, lease_until)',
      // Each step instance of a run (a matrix step has one row per combination), in plan order.
      `CREATE TABLE pipeline_steps (
        run_id ${t.text} NOT NULL,
        idx ${t.bigint} NOT NULL,
        step ${t.text} NOT NULL,
        instance ${t.text} NOT NULL,
        status ${t.text} NOT NULL,
        attempts ${t.bigint} NOT NULL,
        mlflow_run_id ${t.text} NOT NULL,
        cache_key ${t.text} NOT NULL,
        cached_from ${t.text} NOT NULL,
        exit_code ${t.bigint},
        message ${t.text} NOT NULL,
        outputs ${t.text} NOT NULL,
        metrics ${t.text} NOT NULL,
        started_time ${t.bigint},
        finished_time ${t.bigint},
        PRIMARY KEY (run_id, idx)
      )${clustered}`,
      `CREATE TABLE pipeline_logs (
        log_id ${t.id},
        run_id ${t.text} NOT NULL,
        idx ${t.bigint} NOT NULL,
        attempt ${t.bigint} NOT NULL,
        time ${t.bigint} NOT NULL,
        stream ${t.text} NOT NULL,
        line ${t.text} NOT NULL
      )`,
      'CREATE INDEX pipeline_logs_by_run ON pipeline_logs (run_id, log_id)',
      // Results a later run with the same step key may reuse instead of running the step again.
      `CREATE TABLE pipeline_cache (
        project_id ${t.bigint} NOT NULL,
        cache_key ${t.text} NOT NULL,
        outputs ${t.text} NOT NULL,
        metrics ${t.text} NOT NULL,
        mlflow_run_id ${t.text} NOT NULL,
        created_time ${t.bigint} NOT NULL,
        PRIMARY KEY (project_id, cache_key)
      )${clustered}`,
      // What starts a pipeline besides a person: a schedule, a dataset version, an alias move, an
      // alert, a webhook. last_seen is what the trigger saw last; it and next_time move by
      // compare-and-set so exactly one replica fires each event.
      `CREATE TABLE pipeline_triggers (
        project_id ${t.bigint} NOT NULL,
        pipeline ${t.text} NOT NULL,
        trigger_key ${t.text} NOT NULL,
        kind ${t.text} NOT NULL,
        config ${t.text} NOT NULL,
        next_time ${t.bigint} NOT NULL,
        last_seen ${t.text} NOT NULL,
        PRIMARY KEY (project_id, pipeline, trigger_key)
      )${clustered}`,
    ],
  },
];
