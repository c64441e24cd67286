// HTTP/1.1 heads as the raw peer reads them: a start line and header lines, kept as sent so a test
// can check each line the endpoint wrote.

export class HttpHead {
  readonly startLine: string;
  readonly headers: [string, string][];

  constructor(readonly raw: string) {
    const lines = raw.replace(/\r\n\r\n$/, '').split('\r\n');
    this.startLine = lines[0] ?? '';
    this.headers = lines.slice(1).map((line) => {
      const colon = line.indexOf(':');
      return colon < 0 ? [line, ''] : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
    });
  }

  /** Every value of a header, one per line (case-insensitive name). */
  all(name: string): string[] {
    const lower = name.toLowerCase();
    return this.headers.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
  }

  /** The header's lines joined with ", " (RFC 9110 §5.3), undefined when absent. */
  get(name: string): string | undefined {
    const values = this.all(name);
    return values.length === 0 ? undefined : values.join(', ');
  }
}

export class HttpResponse extends HttpHead {
  readonly httpVersion: string;
  readonly status: number;
  readonly reason: string;
  body: Buffer = Buffer.alloc(0);

  constructor(raw: string) {
    super(raw);
    const match = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(this.startLine);
    this.httpVersion = match?.[1] ?? '';
    this.status = Number(match?.[2] ?? 0);
    this.reason = match?.[3] ?? '';
  }
}

export class HttpRequest extends HttpHead {
  readonly method: string;
  readonly target: string;
  readonly httpVersion: string;

  constructor(raw: string) {
    super(raw);
    const [method = '', target = '', httpVersion = ''] = this.startLine.split(' ');
    this.method = method;
    this.target = target;
    this.httpVersion = httpVersion;
  }
}
