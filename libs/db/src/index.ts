export * from './data-source';
export * from './entities/outbox.entity';
export * from './entities/project.entity';
export * from './entities/projection-columns';
export * from './entities/resource.entity';
export * from './entities/subscription.entity';
export * from './entities/task.entity';
export * from './database-readiness.check';
