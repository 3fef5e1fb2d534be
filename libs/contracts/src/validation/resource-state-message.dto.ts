import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsString,
  Matches,
  Min,
  ValidateIf,
} from 'class-validator';

/**
 * The value of `asana.state` as the projector accepts it (`ResourceStateMessage`). `state` is
 * Asana's resource as the API returned it: checked to be an object (or null for a tombstone),
 * never walked, because its fields are Asana's and the projector reads them defensively.
 */
export class ResourceStateMessageDto {
  @Matches(/^\d+$/, { message: 'gid must be a numeric string' })
  @IsString()
  gid!: string;

  @Matches(/\S/, { message: 'type must not be empty' })
  @IsString()
  type!: string;

  @Min(0)
  @IsInt()
  version!: number;

  @IsIn(['modified_at', 'fetched_at', 'deleted_event'])
  versionSource!: string;

  @IsBoolean()
  deleted!: boolean;

  /** A live resource carries its state; a tombstone carries null. */
  @ValidateIf((message: ResourceStateMessageDto) => !message.deleted || message.state !== null)
  @IsObject({ message: 'state must be an object (null only for a tombstone)' })
  state!: object | null;

  @IsISO8601()
  fetchedAt!: string;

  @IsString({ each: true })
  @IsArray()
  causes!: string[];
}

/** The state message as a class instance, shallowly: `state` is kept by reference, not copied. */
export function resourceStateMessageDto(value: object): ResourceStateMessageDto {
  return Object.assign(new ResourceStateMessageDto(), value);
}
