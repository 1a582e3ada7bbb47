// One error type for the whole service; the error handler in app.ts turns it
// into an RFC 9457 problem body. `code` is the stable, machine-readable part.
export interface FieldError {
  /** index of the event in the request, when the error is about one event */
  index?: number
  field: string
  message: string
}

export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export class ValidationError extends AppError {
  constructor(message: string, errors: FieldError[]) {
    super(422, 'VALIDATION_ERROR', message, { errors })
  }
}

/** RFC 9110 reason phrases: the `title` of a problem body with `type: about:blank`. */
export const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
}
