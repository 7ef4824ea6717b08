"""The return-code catalogue (``codigo``) of the Directcall contract, §2.

Codes are three-character zero-padded strings on the wire; clients compare them with ``== '000'``.
"""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    OK = "000"
    PARAMETER_ERROR = "001"  # also the *success* code of the add-callback endpoints (contract §7)
    CALL_REQUEST_FAILED = "002"
    CALL_NOT_ACTIVE = "003"
    CALL_NOT_FINISHED = "004"
    CONNECTION_FAILURE = "005"
    AUTHENTICATION_FAILED = "006"
    SMS_SERVER_UNREACHABLE = "007"
    MESSAGE_SEND_FAILED = "008"
    CODE_NOT_FOUND = "009"
    IDENTIFIER_NOT_FOUND = "010"
    BILLING_SERVICE_PROBLEM = "011"
    BILLING_PROBLEM = "100"
    TEST_ACCOUNT_NOT_REGISTERED = "101"
    NO_CALLS_REMAINING = "102"
    USER_NOT_REGISTERED = "200"
    INSUFFICIENT_BALANCE = "201"

    @property
    def default_message(self) -> str:
        return _DEFAULT_MESSAGES[self]


_DEFAULT_MESSAGES: dict[Code, str] = {
    Code.OK: "OK",
    Code.PARAMETER_ERROR: "Erro nos parametros: parametro invalido ou nao informado",
    Code.CALL_REQUEST_FAILED: "Falha ao solicitar a chamada",
    Code.CALL_NOT_ACTIVE: "Chamada nao esta ativa",
    Code.CALL_NOT_FINISHED: "Chamada nao finalizada",
    Code.CONNECTION_FAILURE: "Falha de conexao",
    Code.AUTHENTICATION_FAILED: "Falha na autenticacao, entre em contato com a Directcall",
    Code.SMS_SERVER_UNREACHABLE: "Nao foi possivel conectar ao servidor de SMS",
    Code.MESSAGE_SEND_FAILED: "Erro ao enviar a mensagem",
    Code.CODE_NOT_FOUND: "Campo code nao existe",
    Code.IDENTIFIER_NOT_FOUND: "Identificador nao existe ou ja foi cancelado",
    Code.BILLING_SERVICE_PROBLEM: "Problema no servico de tarifacao",
    Code.BILLING_PROBLEM: "Problema na tarifacao",
    Code.TEST_ACCOUNT_NOT_REGISTERED: "Conta de teste nao cadastrada",
    Code.NO_CALLS_REMAINING: "Nao ha mais chamadas deste tipo disponiveis",
    Code.USER_NOT_REGISTERED: "Usuario nao cadastrado",
    Code.INSUFFICIENT_BALANCE: "Saldo insuficiente",
}
