export * from './types';
export * from './errors';
export { RayJobsBackend } from './RayJobsBackend';
export { SlurmBackend } from './SlurmBackend';
export { createBackend, parseClusterProfile } from './createBackend';
export { TEMPLATES, buildJob, defaultParams, validateParams, type TemplateId, type TemplateParams, type JobTemplate } from './templates';
export { renderReview, parseReview } from './review';
export { loadProfiles, mergeProfiles, profileEndpoint, secretStorageKey, type ProfileEntry, type ProfileOrigin } from './profiles';
export { BackendCache } from './backendCache';
