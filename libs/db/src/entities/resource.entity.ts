import { Column, Entity } from 'typeorm';
import { ProjectionColumns } from './projection-columns';

/** Every resource type without a table of its own (sections, stories, tags, users, …). */
@Entity({ name: 'resources' })
export class ResourceEntity extends ProjectionColumns {
  @Column({ type: 'text' })
  type!: string;
}
