"""An application's own code as stack traces show it: packages, files, functions and line numbers.

Line numbers come from a hash of the service and the code path, never from the random stream, so the
same frame reads the same in every trace of a window (and across restarts), as real code does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from app.logs.synthetic.faults import Frame


def stable_int(*parts: object, low: int, high: int) -> int:
    """An integer in [low, high] that depends only on ``parts``."""
    digest = hashlib.sha256("/".join(str(part) for part in parts).encode()).digest()
    return low + int.from_bytes(digest[:4], "big") % (high - low + 1)


def camel(words: str) -> str:
    """``payment-methods`` -> ``PaymentMethods``."""
    return "".join(part.capitalize() for part in words.replace("_", "-").split("-") if part)


def snake(words: str) -> str:
    """``payment-methods`` -> ``payment_methods``."""
    return words.replace("-", "_")


def exported(name: str) -> str:
    """A Go exported identifier: the first letter upper-cased (``createOrder`` -> ``CreateOrder``)."""
    return name[:1].upper() + name[1:]


_DIRS = {
    "handler": "api",
    "service": "services",
    "repository": "repositories",
    "client": "clients",
    "job": "jobs",
}


def singular(noun: str) -> str:
    """A resource noun in the singular (``payments`` -> ``payment``, ``entries`` -> ``entry``)."""
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    if noun.endswith(("sses", "shes", "ches", "xes")):
        return noun[:-2]
    return noun[:-1] if noun.endswith("s") else noun


@dataclass(frozen=True)
class CodeBase:
    """The source layout of one service: its organisation, name and language."""

    org: str
    service: str
    family: str

    @property
    def package(self) -> str:
        """The service's name as a package segment (``orders-api`` -> ``ordersapi``)."""
        return self.service.replace("-", "").replace("_", "")

    def frame(self, layer: str, resource: str, function: str) -> Frame:
        """One frame of the service's own code: ``layer`` is handler, service, repository, client, job ..."""
        line = stable_int(self.org, self.service, layer, resource, function, low=24, high=480)
        if self.family == "jvm":
            suffix = {
                "handler": "Controller",
                "repository": "Repository",
                "client": "Client",
                "job": "Job",
            }.get(layer, "Service")
            cls = f"com.{self.org}.{self.package}.{layer}.{camel(singular(resource))}{suffix}"
            return Frame(cls, function, line)
        if self.family == "python":
            path = f"/app/{snake(self.package)}/{_DIRS.get(layer, layer)}/{snake(resource)}.py"
            return Frame(path, snake(function), line, _python_code(layer, resource, function))
        if self.family == "node":
            path = f"/app/dist/{_DIRS.get(layer, layer)}/{resource}.js"
            column = stable_int(self.service, layer, function, low=9, high=41)
            return Frame(
                f"{path}:{line}:{column}", f"{camel(singular(resource))}{camel(layer)}.{function}", line
            )
        type_name = f"{camel(singular(resource))}{camel(layer)}"
        where = f"/app/internal/{layer}/{snake(resource)}.go"
        return Frame(
            where,
            f"github.com/{self.org}/{self.service}/internal/{layer}.(*{type_name}).{exported(function)}",
            line,
        )

    def stack(self, resource: str, verb: str) -> tuple[Frame, ...]:
        """The app frames of a request, innermost first: repository, service, handler."""
        return (
            self.frame(
                "repository",
                resource,
                f"{verb}{camel(singular(resource))}"
                if self.family != "python"
                else f"{verb}_{singular(resource)}",
            ),
            self.frame("service", resource, verb),
            self.frame("handler", resource, f"handle{camel(verb)}" if self.family != "python" else verb),
        )


def _python_code(layer: str, resource: str, function: str) -> str:
    item = snake(singular(resource))
    if layer == "repository":
        return f"result = await self.session.execute(select({camel(singular(resource))}).where({camel(singular(resource))}.id == {item}_id))"
    if layer == "client":
        return "response = await self.client.post(url, json=payload, timeout=self.timeout)"
    if layer == "handler":
        return f"return await service.{snake(function)}({item}_id)"
    return f"{item} = await self.repository.{snake(function)}_{item}({item}_id)"
