export {
  EmulatorUnavailableError,
  TEST_EMULATOR_VARIABLE,
  emulatorAt,
  findDatastoreEmulator,
  startDatastoreEmulator,
  testEmulator,
  type DatastoreEmulator,
  type DatastoreEmulatorOptions,
  type EmulatorAddress,
} from './datastore-emulator.js';
export {
  EPHEMERAL_PORTS_START,
  canListen,
  freePort,
  isListening,
  spawnGroup,
  startRestartable,
  startServer,
  untilListening,
  type GroupProcess,
  type Restartable,
} from './process-group.js';
export { startGate, type Gate } from './gate.js';
export { get, listItems, listen, type Response } from './http-client.js';
export {
  RedisUnavailableError,
  findRedisServer,
  startRedisServer,
  type RedisServer,
  type RedisServerOptions,
} from './redis-server.js';
export {
  startLocalServices,
  type LocalServices,
  type LocalServicesOptions,
} from './local-services.js';
export {
  processTree,
  startCommand,
  survivors,
  type Command,
  type ProcessInfo,
} from './process-tree.js';
