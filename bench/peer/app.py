"""The peer: what a Python team would otherwise build, written the SQLModel tutorial's way.

A FastAPI app with SQLModel models and a Session per request, serving the same Get and
List (limit/offset paging, total_count by count(*)) with the same Basic API-key check,
over extrepo's own database file. Run: uvicorn app:app (EXTREPO_PEER_DATABASE_URL).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlmodel import Field, Session, SQLModel, create_engine, func, select

DATABASE_URL = os.environ["EXTREPO_PEER_DATABASE_URL"]
# As the tutorial has it, but for the pool: its default (5 + 10 overflow) times out at 64
# requests in flight, since FastAPI runs sync endpoints on 40 threads; one connection each.
engine = create_engine(
    DATABASE_URL, connect_args={"check_same_thread": False}, pool_size=40, max_overflow=0
)
app = FastAPI()
security = HTTPBasic()


class Account(SQLModel, table=True):
    __tablename__ = "account"
    id: int | None = Field(default=None, primary_key=True)
    name: str
    kind: str


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    id: str = Field(primary_key=True)
    user_id: int
    secret_sha256: bytes
    revoked_at: datetime | None = None


class Repository(SQLModel, table=True):
    __tablename__ = "repository"
    id: int | None = Field(default=None, primary_key=True)
    namespace_id: int
    name: str
    in_use: bool
    created_at: datetime
    updated_at: datetime


class RepositoryPublic(SQLModel):
    name: str
    in_use: bool
    registry: str
    resource_uri: str


def get_session():
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_account(
    session: SessionDep, credentials: Annotated[HTTPBasicCredentials, Depends(security)]
) -> Account:
    parts = credentials.password.split("_")
    key = session.get(ApiKey, parts[1]) if len(parts) == 3 else None
    secret = hashlib.sha256(parts[-1].encode()).digest()
    if key is None or key.revoked_at or not hmac.compare_digest(secret, key.secret_sha256):
        raise HTTPException(status_code=401, detail="invalid credentials")
    account = session.get(Account, key.user_id)
    if account is None or account.name != credentials.username:
        raise HTTPException(status_code=401, detail="invalid credentials")
    return account


AccountDep = Annotated[Account, Depends(current_account)]


def public(account: Account, repository: Repository) -> RepositoryPublic:
    host = repository.name.split("/", 1)[0]
    return RepositoryPublic(
        name=repository.name,
        in_use=repository.in_use,
        registry=f"/api/repo/v1/{account.name}/registry/{host}/",
        resource_uri=f"/api/repo/v1/{account.name}/repository/{repository.name}/",
    )


@app.get("/api/repo/v1/repository/")
def list_repositories(
    session: SessionDep,
    account: AccountDep,
    limit: Annotated[int, Query(le=100)] = 25,
    offset: int = 0,
):
    query = select(Repository).where(Repository.namespace_id == account.id)
    total = session.exec(
        select(func.count()).select_from(Repository).where(Repository.namespace_id == account.id)
    ).one()
    repositories = session.exec(query.order_by(Repository.name).offset(offset).limit(limit)).all()
    return {
        "meta": {"limit": limit, "offset": offset, "total_count": total},
        "objects": [public(account, r) for r in repositories],
    }


@app.get("/api/repo/v1/repository/{name:path}/")
def get_repository(name: str, session: SessionDep, account: AccountDep) -> RepositoryPublic:
    repository = session.exec(
        select(Repository).where(Repository.namespace_id == account.id, Repository.name == name)
    ).first()
    if repository is None:
        raise HTTPException(status_code=404, detail="not found")
    return public(account, repository)
