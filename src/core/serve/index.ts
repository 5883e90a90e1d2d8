export { buildServeJob, judgeDefaults, policyDefaults, serveProblems, vllmCommand, type ServeParams, type ServeRole } from './serveTemplates';
export { ServeSession, ServeError, type ServePhase, type ServeState, type ServedReplica, type ServeSessionOptions } from './ServeSession';
export { SshTunnel } from './SshTunnel';
export { discoverSlurmReplicas, parseAddrFiles, rayJumpConnection, rayReplicas, slurmServeSettings, type ReplicaAddress } from './discovery';
export { ServedEndpoints, withServedEndpoints, type ServedModel } from './ServedEndpoints';
export { readServeRecords, withServeRecord, withoutServeRecord, type ServeRecord } from './serveRecords';
