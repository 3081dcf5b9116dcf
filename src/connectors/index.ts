// Connectors run what the gate allowed, holding the real credentials. See connector.ts for
// the contract.
export type { ColumnInfo, Connector, ExecutionContext, ExecutionResult } from './connector.js';
export {
  buildShellEnvironment,
  createShellConnector,
  DEFAULT_SHELL_ENV_ALLOW,
  isSecretEnvName,
  type ShellConnectorOptions,
  type ShellEnvironmentOptions,
} from './shell.js';
export { createPostgresConnector, type PostgresConnectorOptions } from './postgres.js';
