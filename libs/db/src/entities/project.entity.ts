import { Column, Entity } from 'typeorm';
import { ProjectionColumns } from './projection-columns';

@Entity({ name: 'projects' })
export class ProjectEntity extends ProjectionColumns {
  @Column({ type: 'text', nullable: true })
  name!: string | null;

  @Column({ type: 'boolean', nullable: true })
  archived!: boolean | null;

  @Column({ name: 'workspace_gid', type: 'text', nullable: true })
  workspaceGid!: string | null;
}
