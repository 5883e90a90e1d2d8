export {
  buildServeJob,
  judgeDefaults,
  policyDefaults,
  serveProblems,
  vllmCommand,
  type ServeParams,
  type ServeRole,
} from './serveTemplates';
export { ServeSession, ServeError, type ServeState, type ServedReplica } from './ServeSession';
export { parseAddrFiles, rayJumpConnection, rayReplicas, slurmServeSettings } from './discovery';
export { ServedEndpoints, withServedEndpoints } from './ServedEndpoints';
export { readServeRecords, withServeRecord, withoutServeRecord, type ServeRecord } from './serveRecords';
