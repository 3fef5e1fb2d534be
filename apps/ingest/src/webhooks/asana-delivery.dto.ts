import { plainToInstance, Type } from 'class-transformer';
import {
  IsArray,
  IsIn,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  ValidateNested,
  validateSync,
} from 'class-validator';

class ResourceRefDto {
  @IsString()
  @Matches(/^\d+$/, { message: 'gid must be a numeric string' })
  gid!: string;

  @IsString()
  resource_type!: string;
}

/**
 * The parts of an Asana event that asana-stream relies on. Other fields pass through untouched:
 * Asana adds fields without notice, and the event is forwarded as received.
 */
class AsanaEventDto {
  @IsIn(['changed', 'added', 'removed', 'deleted', 'undeleted'])
  action!: string;

  @IsISO8601()
  created_at!: string;

  @IsObject()
  @ValidateNested()
  @Type(() => ResourceRefDto)
  resource!: ResourceRefDto;

  @IsOptional()
  @IsObject()
  parent?: object | null;

  @IsOptional()
  @IsObject()
  user?: object | null;
}

class AsanaDeliveryDto {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => AsanaEventDto)
  events!: AsanaEventDto[];
}

/** Returns the problems that make `body` not an Asana delivery (empty when it is one). */
export function deliveryProblems(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['the body must be a JSON object'];
  const errors = validateSync(plainToInstance(AsanaDeliveryDto, body), { forbidUnknownValues: true });
  const flatten = (error: (typeof errors)[number], path: string): string[] => [
    ...Object.values(error.constraints ?? {}).map((m) => `${path}${error.property}: ${m}`),
    ...(error.children ?? []).flatMap((child) => flatten(child, `${path}${error.property}.`)),
  ];
  return errors.flatMap((error) => flatten(error, ''));
}
