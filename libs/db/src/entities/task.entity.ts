import { Column, Entity } from 'typeorm';
import { ProjectionColumns } from './projection-columns';

@Entity({ name: 'tasks' })
export class TaskEntity extends ProjectionColumns {
  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @Column({ type: 'boolean', nullable: true })
  completed!: boolean | null;

  @Column({ name: 'assignee_gid', type: 'text', nullable: true })
  assigneeGid!: string | null;

  @Column({ name: 'workspace_gid', type: 'text', nullable: true })
  workspaceGid!: string | null;
}
