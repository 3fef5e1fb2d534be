import { plainToInstance, Type } from 'class-transformer';
import { IsArray, ValidateNested, validateSync } from 'class-validator';
import { AsanaEventDto } from '@asana-stream/contracts';

/** A webhook delivery: its events, each checked as `asana.events` will carry it. */
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
